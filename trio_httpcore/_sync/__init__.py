"""The blocking bridge: a portal thread runs the async implementation; sync callers hand work
over and park until it is done."""
