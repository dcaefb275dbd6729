"""Thin function views: validate with a form, call one service, render or redirect."""
