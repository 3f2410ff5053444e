"""The example shop: products, a checkout that starts a Flinks Pay session, a thank-you page."""
