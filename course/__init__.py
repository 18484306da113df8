"""The course's chapters are notebooks in this folder; :mod:`course.demos` holds the small nodes,
labs and measuring tools their live demos run on the lab runtime."""
