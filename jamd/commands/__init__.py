"""One module per ``jamd`` subcommand: argument parsing and printing only; the work is done by
the modules they call. Keep imports of heavy libraries (torch) inside ``run``."""
