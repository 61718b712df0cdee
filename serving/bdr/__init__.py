"""The autonomous BDR agent (issue 15): discover, research, engage, handle replies, qualify, hand off."""
