"""Foundations every other subpackage may use: the user-facing error type, YAML files read with
file and line, where things are on disk, and logging set-up. Imports nothing from jamd."""
