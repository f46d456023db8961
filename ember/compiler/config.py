"""Settings of ``ember.compiler`` (PyTorch's ``torch.compiler.config`` names)."""

#: an identifier of this job: the key compile caches are saved under (None: none given)
job_id = None
#: a string added to cache keys, to keep caches of different settings apart
cache_key_tag = ""
