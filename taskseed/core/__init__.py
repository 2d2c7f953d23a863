"""The framework every phase stands on: artifacts and the stage runner, configuration, tracking, errors,
console output and the embedded models.

In: a resolved Hydra config. Out: fingerprinted artifacts under `paths.artifacts`, MLflow runs, tables.
Nothing here imports a phase package (`sources`, `synth`, `filter`, `mix`, `training`, ...).
"""
