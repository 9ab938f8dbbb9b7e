"""Training engine on Hugging Face Accelerate: loop, checkpoints, optimisers, EMA, logging, seeding."""
