"""SageMaker outputs: decisions (model, channels, hyperparameters, training slice) and the
container files rendered from `templates/container/`."""
