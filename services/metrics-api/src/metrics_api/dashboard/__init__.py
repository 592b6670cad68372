"""The dashboard page for contact-centre managers."""
