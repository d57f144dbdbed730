"""Generative models (CAE, VAE, DCGAN): builders, image-grid callbacks and a Fréchet quality metric."""
