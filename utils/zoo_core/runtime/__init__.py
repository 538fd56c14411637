"""Run-time support that every other sub-package may use: configuration, logging, devices and
process groups, Ascend rank tables, and the user-error base class. Imports nothing else of zoo_core."""
