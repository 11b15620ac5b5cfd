"""Firestore access, all of it: nothing outside this package builds a Firestore path."""
