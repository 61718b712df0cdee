"""Pure statistics for the pages (no Streamlit, no database), unit-tested on their own."""
