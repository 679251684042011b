param([string]$ModulePath)
