"""The suite's root conftest: its presence makes ``tests/`` the import root for shared helpers.

In pytest's default ("prepend") import mode, the directory of a root ``conftest.py`` that is not
inside a package goes on the import path before any test is collected, so every test file imports
the shared helpers as ``fixtures.<module>`` (``tests/fixtures/``) without touching the path itself.
"""
