"""HTTP/2: h2's state machine driven over one stream, one reader task feeding many streams."""
