"""The feed tables, defined in `hub.trust.feed_models` (below `hub.sync`, which runs the feeds)."""

from hub.trust.feed_models import TAXII_FORMATS as TAXII_FORMATS
from hub.trust.feed_models import Feed as Feed
from hub.trust.feed_models import FeedRun as FeedRun
