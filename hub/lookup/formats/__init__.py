"""Device formats beyond the plain lists: a MISP feed, Suricata rules, Zeek intel and an RPZ zone.

Each reads the values device lists take (hub.lookup.downloads.device_values: the reader's visible,
fit, non-benign values, within the key's TLP ceiling) and writes them in its consumer's own format,
as a stream of bytes in bounded memory (a set of what it has written, to write each once). Nothing
from upstream free text reaches a consumer: names, descriptions and messages are built from the
value, the group, the collection, the TLP level and the object id, each reduced to a safe alphabet.
"""
