"""The autograder: fault schedules, checkers, grading runner. See DESIGN."""
