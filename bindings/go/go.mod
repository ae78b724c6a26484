module idpkit.dev/idpkit

go 1.24
