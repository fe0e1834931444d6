"""voltstream: the command line (`voltstream …`) and local orchestration."""
