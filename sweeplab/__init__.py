"""sweeplab: Optuna studies and W&B sweeps over Keras 3 trainers. `sweeplab --help` lists the commands."""
