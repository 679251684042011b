# A pod of one container run by runc alone, for the Pester files (through Gadget.TestHelpers.ps1)
# and the benchmarks alike.

function Start-RuncPod {
    # A busybox-static container run by runc alone (no containerd), its bundle in $Directory
    # annotated as the kubelet labels the pod $Namespace/$Pod with one container $Pod; runc's state
    # directory is one the agent scans. $Script runs under /bin/sh with busybox's $Applets;
    # $Configure may change the parsed config.json (a hashtable, its first argument) and add files
    # to the root (its second, the rootfs path) first. Returns the container id.
    param(
        [Parameter(Mandatory)][string] $Directory,
        [Parameter(Mandatory)][string] $Namespace,
        [Parameter(Mandatory)][string] $Pod,
        [Parameter(Mandatory)][string] $Script,
        [string[]] $Applets = @('sh', 'sleep'),
        [scriptblock] $Configure
    )
    $id = "$Pod-$([Guid]::NewGuid().ToString('N').Substring(0, 8))"
    $bundle = Join-Path $Directory $id
    $rootfs = Join-Path $bundle 'rootfs'
    foreach ($folder in 'bin', 'proc', 'sys', 'dev', 'tmp') { $null = New-Item -ItemType Directory (Join-Path $rootfs $folder) -Force }
    Copy-Item /bin/busybox (Join-Path $rootfs 'bin/busybox')
    foreach ($applet in $Applets) { $null = New-Item -ItemType SymbolicLink -Path (Join-Path $rootfs "bin/$applet") -Target busybox }
    & runc spec --bundle $bundle
    if ($LASTEXITCODE -ne 0) { throw 'runc spec failed.' }
    $configPath = Join-Path $bundle 'config.json'
    $config = Get-Content $configPath -Raw | ConvertFrom-Json -AsHashtable
    $config.process.terminal = $false
    $config.process.args = @('/bin/sh', '-c', $Script)
    $config.root = @{ path = 'rootfs'; readonly = $false }
    $config.annotations = @{
        'io.kubernetes.pod.namespace'  = $Namespace
        'io.kubernetes.pod.name'       = $Pod
        'io.kubernetes.container.name' = $Pod
        'io.kubernetes.pod.uid'        = [Guid]::NewGuid().ToString()
    }
    if ($Configure) { & $Configure $config $rootfs }
    $config | ConvertTo-Json -Depth 32 | Set-Content $configPath
    # Detached, the container keeps the stdio runc was given: a file, not this process's pipes.
    & /bin/sh -c "exec runc run -d --bundle '$bundle' $id </dev/null >'$bundle/runc.log' 2>&1"
    if ($LASTEXITCODE -ne 0) { throw "runc run $id failed: $(Get-Content "$bundle/runc.log" -Raw)" }
    $id
}
