#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Builds the agent image from scratch, as an OCI image archive.

.DESCRIPTION
    No base image can be pulled on the build machines, so the root file system is assembled here
    and packed without an image builder:
    1. The agent, compiled ahead of time for linux-x64 (NativeAOT), in /gadget.
    2. libbpf.so.1 and every shared library the agent and libbpf link against (listed by ldd), at
       their paths on this Debian host, with the dynamic loader; and OpenSSL 3 (libssl.so.3,
       libcrypto.so.3), which .NET loads at run time for HTTPS to the API server.
    3. One uncompressed layer, its config (entry point and arguments of deploy/Containerfile) and
       manifest, in an OCI image layout packed as one tar: `ctr images import` and
       `podman load` read it.
    Nothing else: no shell, no package manager, no certificates (the agent trusts the service
    account's ca.crt for the API server, nothing else).

.EXAMPLE
    ./deploy/Build-AgentImage.ps1 -OutputPath out/image
    ctr -n k8s.io images import out/image/gadget-agent.oci.tar
#>
[CmdletBinding()]
param(
    # Where the root file system and the archive (gadget-agent.oci.tar) are written; emptied first.
    [Parameter(Mandatory)]
    [string] $OutputPath,

    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',

    # The name containerd gives the image on import (the DaemonSet's default image).
    [string] $ImageName = 'ghcr.io/gadget/gadget-agent:0.1.0',

    # An agent already compiled for linux-x64 (build.ps1 stages one in out/Gadget/agent); without
    # it the agent is published here.
    [string] $AgentPath
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

function Invoke-Native {
    param([Parameter(Mandatory)][string] $Command, [string[]] $Arguments = @())
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "'$Command $($Arguments -join ' ')' failed with exit code $LASTEXITCODE." }
}

function Get-LinkedLibrary {
    # The shared libraries ldd resolves for a binary, and its interpreter, as host paths.
    param([string] $Binary)
    foreach ($line in (& ldd $Binary)) {
        if ($line -match 'not found') {
            throw "$Binary needs a library this host does not have: $($line.Trim())"
        }
        if ($line -match '=>\s+(/\S+)' -or $line -match '^\s*(/\S+)\s+\(') { $Matches[1] }
    }
}

function Copy-HostFile {
    # Copies a host file's content to the same path in the root file system, with the symlinks of
    # its directories resolved (Debian's /lib is usr/lib: the image gets the same links).
    param([string] $Path)
    $directory = & realpath -e (Split-Path $Path)
    $target = Join-Path $rootfs $directory.TrimStart('/') (Split-Path $Path -Leaf)
    New-Item (Split-Path $target) -ItemType Directory -Force | Out-Null
    Copy-Item -LiteralPath (& realpath -e $Path) -Destination $target -Force
}

$Root = Split-Path $PSScriptRoot
$OutputPath = [IO.Path]::GetFullPath($OutputPath, (Get-Location).Path)
$rootfs = Join-Path $OutputPath 'rootfs'
if (Test-Path $OutputPath) { Remove-Item $OutputPath -Recurse -Force }
New-Item $rootfs -ItemType Directory -Force | Out-Null

# 1. The agent, compiled ahead of time (NativeAOT): one executable, no runtime beside it.
$agentDirectory = Join-Path $rootfs 'gadget'
if ($AgentPath) {
    New-Item $agentDirectory -ItemType Directory -Force | Out-Null
    Copy-Item -LiteralPath $AgentPath -Destination (Join-Path $agentDirectory 'gadget-agent')
}
else {
    Invoke-Native dotnet @('publish', (Join-Path $Root 'src/Gadget.Agent'), '-c', $Configuration, '-r', 'linux-x64',
        '-o', $agentDirectory, '--nologo', '-v', 'quiet', '-clp:ErrorsOnly', '-p:DebugType=none', '-p:GenerateDocumentationFile=false')
    Get-ChildItem $agentDirectory -Include '*.dbg', '*.staticwebassets.*', 'web.config' -Recurse | Remove-Item
}

# 2. libbpf, OpenSSL and the libraries everything links against. ldd does not list OpenSSL: .NET's
# crypto shim opens libssl.so.3 (and with it libcrypto.so.3) by name when the first TLS connection
# is made, which is the pod watch's HTTPS to the API server.
$libbpf = '/usr/lib/x86_64-linux-gnu/libbpf.so.1'
if (-not (Test-Path $libbpf)) { throw "$libbpf is missing: apt-get install libbpf1" }
$openssl = @('/usr/lib/x86_64-linux-gnu/libssl.so.3', '/usr/lib/x86_64-linux-gnu/libcrypto.so.3')
foreach ($library in $openssl) {
    if (-not (Test-Path $library)) { throw "$library is missing: apt-get install libssl3" }
}
$binaries = @((Join-Path $agentDirectory 'gadget-agent'), $libbpf) + $openssl + @(Get-ChildItem $agentDirectory -Filter '*.so' | ForEach-Object FullName)
$libraries = [Collections.Generic.SortedSet[string]]::new([string[]](@($libbpf) + $openssl))
foreach ($binary in $binaries) {
    foreach ($library in Get-LinkedLibrary $binary) {
        if (-not $library.StartsWith($agentDirectory)) { [void]$libraries.Add($library) }
    }
}
foreach ($library in $libraries) { Copy-HostFile $library }
foreach ($link in Get-ChildItem / -Attributes ReparsePoint | Where-Object Name -in 'lib', 'lib64') {
    New-Item (Join-Path $rootfs $link.Name) -ItemType SymbolicLink -Value $link.LinkTarget | Out-Null
}
# Mount points (the host paths the DaemonSet mounts lie under /sys and /run) and root's passwd entry.
foreach ($directory in 'proc', 'sys', 'dev', 'tmp', 'run', 'etc') { New-Item (Join-Path $rootfs $directory) -ItemType Directory -Force | Out-Null }
Set-Content (Join-Path $rootfs 'etc/passwd') 'root:x:0:0:root:/:/gadget/gadget-agent'

# 3. The OCI image layout: layer, config, manifest, index; then one tar of it.
$layout = Join-Path $OutputPath 'oci'
$blobs = Join-Path $layout 'blobs/sha256'
New-Item $blobs -ItemType Directory -Force | Out-Null

function Add-Blob {
    # Moves a file into the layout under its digest.
    param([string] $Path)
    $digest = (Get-FileHash $Path -Algorithm SHA256).Hash.ToLowerInvariant()
    $blob = Join-Path $blobs $digest
    Move-Item $Path $blob -Force
    [pscustomobject]@{ Digest = "sha256:$digest"; Size = (Get-Item $blob).Length }
}

function Add-JsonBlob {
    param([System.Collections.IDictionary] $Content)
    $path = Join-Path $OutputPath 'blob.json'
    [IO.File]::WriteAllText($path, ($Content | ConvertTo-Json -Depth 10 -Compress))
    Add-Blob $path
}

$layerPath = Join-Path $OutputPath 'layer.tar'
Invoke-Native tar @('--create', '--file', $layerPath, '--directory', $rootfs, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=@0', '.')
$layer = Add-Blob $layerPath
# The entry point and arguments of deploy/Containerfile.
$containerfile = Get-Content (Join-Path $PSScriptRoot 'Containerfile') -Raw
$entrypoint = ($containerfile -split "`n" | Where-Object { $_ -match '^ENTRYPOINT\s+(\[.*\])' } | ForEach-Object { $Matches[1] }) | ConvertFrom-Json
$arguments = ($containerfile -split "`n" | Where-Object { $_ -match '^CMD\s+(\[.*\])' } | ForEach-Object { $Matches[1] }) | ConvertFrom-Json
$config = Add-JsonBlob ([ordered]@{
    architecture = 'amd64'
    os = 'linux'
    config = [ordered]@{ Entrypoint = @($entrypoint); Cmd = @($arguments); WorkingDir = '/' }
    rootfs = [ordered]@{ type = 'layers'; diff_ids = @($layer.Digest) }
})
$manifest = Add-JsonBlob ([ordered]@{
    schemaVersion = 2
    mediaType = 'application/vnd.oci.image.manifest.v1+json'
    config = [ordered]@{ mediaType = 'application/vnd.oci.image.config.v1+json'; digest = $config.Digest; size = $config.Size }
    layers = @([ordered]@{ mediaType = 'application/vnd.oci.image.layer.v1.tar'; digest = $layer.Digest; size = $layer.Size })
})
[IO.File]::WriteAllText((Join-Path $layout 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}')
$index = [ordered]@{
    schemaVersion = 2
    manifests = @([ordered]@{
        mediaType = 'application/vnd.oci.image.manifest.v1+json'; digest = $manifest.Digest; size = $manifest.Size
        annotations = [ordered]@{ 'io.containerd.image.name' = $ImageName; 'org.opencontainers.image.ref.name' = ($ImageName -split ':')[-1] }
    })
}
[IO.File]::WriteAllText((Join-Path $layout 'index.json'), ($index | ConvertTo-Json -Depth 10 -Compress))
$archive = Join-Path $OutputPath 'gadget-agent.oci.tar'
Invoke-Native tar @('--create', '--file', $archive, '--directory', $layout, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=@0', 'oci-layout', 'index.json', 'blobs')
Remove-Item $layout -Recurse -Force
Write-Host "Image $ImageName in $archive ($([math]::Round((Get-Item $archive).Length / 1MB)) MiB, $($libraries.Count) host libraries)"
