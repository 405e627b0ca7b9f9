"""Training corpora: the Groove MIDI Dataset and user folders cut into 2-bar windows (and their
augmentation for training), the procedural bass corpus, bass from users' multitrack MIDI. May
import ``base``, ``midi``, ``music``."""
