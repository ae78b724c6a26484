module idpkit.invalid/rig/idpbuilder-cert

go 1.21
