"""Team management: members, invitations, teams (issue 18 §1)."""
