"""The torch code, and the only place torch is imported: the drum and bass VAEs and their
training loops. Imported only by the ``jamd train`` commands."""
