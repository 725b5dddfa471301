"""hopwatch tests: they mirror the packages."""
