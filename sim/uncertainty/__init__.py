"""Parameter uncertainty: priors from the evidence, draws, and what drives an answer."""
