"""DeployBench: honest ML deployment measurements and crash-prone benchmarks for Optuna."""
