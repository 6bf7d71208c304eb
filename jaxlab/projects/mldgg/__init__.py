"""MLDGG: Meta-Learning for Domain Generalization on Graphs (Tian et al., KDD 2025, arXiv 2411.12913)."""
