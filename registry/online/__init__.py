"""Applying online from the citizens' portal: a draft kept between visits, then a case through the online start."""
