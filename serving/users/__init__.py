"""Users, their profiles and team invitations."""
