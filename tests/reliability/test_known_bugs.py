"""Known bugs the reliability suite found and that are not fixed yet.

Each test is a strict xfail: it fails today; once the bug is fixed it passes,
xfail_strict turns that into a failure, and the marker must go (the test
moves to the suite of its area).

None is open. The last one, an HTTP/2 content-length mismatch failing the
whole connection instead of its stream (RFC 9113 section 8.1.1), is fixed:
``tests/http2/test_http2_connection.py::
test_a_body_not_matching_its_content_length_fails_only_its_stream``.
"""
