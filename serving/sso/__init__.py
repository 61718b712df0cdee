"""Single sign-on: SAML 2.0 and OpenID Connect (issue 18 §4)."""
