"""Looking at the data and the training: self-contained HTML reports and TensorBoard scalars.

- :mod:`augment.report.candidates`: candidates per eligible word, counted while augmenting (the rows
  keep only the chosen replacements, so the report cannot recover the candidate lists afterwards);
- :mod:`augment.report.augment_stats`: one streaming pass over ``augment-squad`` shards;
- :mod:`augment.report.viewer`: a seeded sample of questions, the original next to its variants;
- :mod:`augment.report.augment_page` and :mod:`augment.report.eval_page`: the two HTML pages;
- :mod:`augment.report.html` and :mod:`augment.report.plots`: page skeleton and inline SVG plots
  (matplotlib, the optional ``report`` extra; without it the pages keep their tables);
- :mod:`augment.report.tracking`: ``distill-train`` metrics records as tracker scalars.

No page loads anything from the network: styles, scripts and plots are inline.
"""
