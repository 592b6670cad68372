"""Tooling for the tests, `make run` and the benchmarks; no service imports it.

It lives apart from contact_common so that what the services run carries no pytest and no
broker binary: the image installs the services' dependencies without the dev group, which is
where this package is.
"""
