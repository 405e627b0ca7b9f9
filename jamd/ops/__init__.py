"""Looking after a box: ``jamd doctor``'s checks, ``jamd bench``'s measurements and the
process-layout measurement. May import everything but ``training`` and ``commands``."""
