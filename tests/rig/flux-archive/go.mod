module idpkit.invalid/rig/flux-archive

go 1.21
