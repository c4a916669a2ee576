"""Action tests: a package, so helpers like local_peers import by their full name."""
