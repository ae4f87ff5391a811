"""What every HTTP version shares: the transport interface, request checks, the connection
contract, network-stream helpers and the connection-bound response body."""
