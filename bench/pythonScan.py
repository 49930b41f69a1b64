# The Python competitor in the scan benchmark: what `hf cache ls` runs (huggingface_hub's scan_cache_dir).
import json
import sys

from huggingface_hub import scan_cache_dir

info = scan_cache_dir(sys.argv[1])
files = sum(repo.nb_files for repo in info.repos)
print(json.dumps({"repos": len(info.repos), "size": info.size_on_disk, "files": files, "warnings": len(info.warnings)}))
