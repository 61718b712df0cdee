"""Two-way HubSpot and Salesforce sync: vendor clients, field mapping, record links and the sync itself."""
