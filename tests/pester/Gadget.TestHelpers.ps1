# Helpers shared by the Pester suites: dot-source in BeforeAll.
# They start real agents, cause real process activity and look at the kernel through bpftool.

function Test-KernelTracing {
    # True where traces can run: Linux, root, kernel BTF. On CI (CI=true) kernel tests always run.
    $env:CI -eq 'true' -or ($IsLinux -and [Environment]::IsPrivilegedProcess -and (Test-Path /sys/kernel/btf/vmlinux))
}

function New-TestDirectory {
    # A private directory under /tmp (short paths: a unix socket path must stay under 108 bytes).
    param([string] $Prefix = 'gadget-pester')
    $path = Join-Path ([IO.Path]::GetTempPath()) "$Prefix-$([Guid]::NewGuid().ToString('N').Substring(0, 12))"
    New-Item $path -ItemType Directory -Force | Select-Object -ExpandProperty FullName
}

function Wait-Condition {
    # Polls $Condition until it returns $true or $Timeout passes; returns the last result.
    param([scriptblock] $Condition, [timespan] $Timeout = '00:00:10', [int] $IntervalMilliseconds = 50)
    $watch = [Diagnostics.Stopwatch]::StartNew()
    do {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds $IntervalMilliseconds
    } while ($watch.Elapsed -lt $Timeout)
    [bool](& $Condition)
}

function Test-UnixSocket {
    param([string] $Path)
    if (-not (Test-Path $Path)) { return $false }
    $socket = [Net.Sockets.Socket]::new([Net.Sockets.AddressFamily]::Unix, [Net.Sockets.SocketType]::Stream, [Net.Sockets.ProtocolType]::Unspecified)
    try {
        $socket.Connect([Net.Sockets.UnixDomainSocketEndPoint]::new($Path))
        $true
    }
    catch { $false }
    finally { $socket.Dispose() }
}

function Start-TestAgent {
    # Starts <module>/agent/gadget-agent on a socket of its own and waits until it accepts.
    # -Directory reuses the directory (and so the socket path) of an agent that is gone. The agent
    # exits with this process (--parent-pid), so a suite that dies leaves no programs attached.
    param([Parameter(Mandatory)][string] $ModulePath, [string[]] $ExtraArguments = @(), [string] $Directory)
    $directory = if ($Directory) { $Directory } else { New-TestDirectory 'gadget-agent' }
    $socket = Join-Path $directory 'agent.sock'
    $arguments = @('--socket', $socket, '--parent-pid', $PID) + $ExtraArguments
    $process = Start-Process -FilePath (Join-Path $ModulePath 'agent/gadget-agent') -ArgumentList $arguments -PassThru `
        -RedirectStandardOutput (Join-Path $directory 'stdout.log') -RedirectStandardError (Join-Path $directory 'stderr.log')
    $agent = [pscustomobject]@{ Process = $process; Socket = $socket; Directory = $directory }
    if (-not (Wait-Condition { $process.HasExited -or (Test-UnixSocket $socket) } -Timeout '00:00:30') -or $process.HasExited) {
        $log = Get-Content (Join-Path $directory 'stderr.log') -Raw -ErrorAction Ignore
        Stop-TestAgent $agent
        throw "gadget-agent did not start on $socket. $log"
    }
    $agent
}

function Enter-TestAgent {
    # A test file's own agent (Start-TestAgent), with -Local pointed at it until Exit-TestAgent;
    # $null where the kernel cannot trace.
    param([Parameter(Mandatory)][string] $ModulePath, [string[]] $ExtraArguments = @())
    if (-not (Test-KernelTracing)) { return $null }
    $agent = Start-TestAgent -ModulePath $ModulePath -ExtraArguments $ExtraArguments
    $agent | Add-Member -NotePropertyName PreviousSocket -NotePropertyValue $env:GADGET_AGENT_SOCKET
    $env:GADGET_AGENT_SOCKET = $agent.Socket
    $agent
}

function Exit-TestAgent {
    # Points -Local back where it pointed before Enter-TestAgent, and stops the agent.
    param($Agent)
    if (-not $Agent) { return }
    $env:GADGET_AGENT_SOCKET = $Agent.PreviousSocket
    Stop-TestAgent $Agent
}

function Stop-TestAgent {
    # SIGTERM lets the agent detach its programs; SIGKILL if it does not stop within 10 s.
    param($Agent)
    if (-not $Agent) { return }
    $process = $Agent.Process
    if (-not $process.HasExited) {
        & /bin/kill -TERM $process.Id
        if (-not $process.WaitForExit(10000)) {
            $process.Kill()
            $process.WaitForExit()
        }
    }
    Remove-Item $Agent.Directory -Recurse -Force -ErrorAction Ignore
}

function Get-ExecProgramCount {
    # The exec gadget's BPF programs (gadget_exec, and gadget_execve_e… with -IncludeFailed) that
    # `bpftool prog show` lists, counting only those one process holds (through /proc/<pid>/fdinfo),
    # so other agents on the machine cannot disturb the count.
    param([Parameter(Mandatory)][int] $ProcessId, [string] $Name = 'gadget_exec*')
    $json = & bpftool prog show --json
    if ($LASTEXITCODE -ne 0) { throw "bpftool prog show failed ($LASTEXITCODE)." }
    $ids = @(($json | ConvertFrom-Json) | Where-Object name -like $Name | ForEach-Object id)
    if ($ids.Count -eq 0) { return 0 }
    $held = foreach ($info in Get-ChildItem "/proc/$ProcessId/fdinfo" -ErrorAction Ignore) {
        $match = Select-String -LiteralPath $info.FullName -Pattern '^prog_id:\s+(\d+)' -ErrorAction Ignore
        if ($match) { [int]$match.Matches[0].Groups[1].Value }
    }
    @($held | Sort-Object -Unique | Where-Object { $_ -in $ids }).Count
}

function Get-BpfObjectCount {
    # The BPF programs, links and maps one process holds open (the targets of its /proc/<pid>/fd
    # entries), so traces of other processes on the machine cannot disturb the count.
    param([Parameter(Mandatory)][int] $ProcessId)
    $counts = [ordered]@{ Programs = 0; Links = 0; Maps = 0 }
    foreach ($fd in [IO.Directory]::EnumerateFileSystemEntries("/proc/$ProcessId/fd")) {
        $target = try { [IO.FileInfo]::new($fd).LinkTarget } catch [IO.IOException] { $null }   # closed while we looked
        switch ($target) {
            'anon_inode:bpf-prog' { $counts.Programs++ }
            'anon_inode:bpf_link' { $counts.Links++ }
            'anon_inode:bpf-map' { $counts.Maps++ }
        }
    }
    [pscustomobject]$counts
}

function Get-ResidentBytes {
    # A process's resident set size (VmRSS), in bytes.
    param([Parameter(Mandatory)][int] $ProcessId)
    $line = Select-String -LiteralPath "/proc/$ProcessId/status" -Pattern '^VmRSS:\s+(\d+) kB' | Select-Object -First 1
    if (-not $line) { throw "No VmRSS for process $ProcessId." }
    [long]$line.Matches[0].Groups[1].Value * 1024
}

function Start-GetppidWorkload {
    # Compiles tests/bench/workloads/getppid-loop.c into $Directory and starts it: $CallsPerSecond
    # getppid() calls a second for $For, each of which makes a flood trace of its pid emit events.
    # With -Paused it waits for a line on its standard input before its first call.
    param(
        [Parameter(Mandatory)][string] $Directory,
        [int] $CallsPerSecond = 500,
        [timespan] $For = '00:10:00',
        [switch] $Paused
    )
    $program = Join-Path $Directory 'getppid-loop'
    if (-not (Test-Path $program)) {
        & clang -O2 -Wall -Werror -o $program (Join-Path $PSScriptRoot '../bench/workloads/getppid-loop.c')
        if ($LASTEXITCODE -ne 0) { throw "clang failed on getppid-loop.c ($LASTEXITCODE)." }
    }
    $start = [Diagnostics.ProcessStartInfo]::new($program)
    $start.ArgumentList.Add([string][long]($CallsPerSecond * $For.TotalSeconds))
    $start.ArgumentList.Add([string]$CallsPerSecond)
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $process = [Diagnostics.Process]::Start($start)
    $ready = $process.StandardOutput.ReadLine()
    if ($ready -notmatch '^ready \d+$') { $process.Kill(); throw "getppid-loop did not start: '$ready'." }
    if (-not $Paused) {
        $process.StandardInput.WriteLine('go')
        $process.StandardInput.Flush()
    }
    $process
}

function Stop-GetppidWorkload {
    param([Diagnostics.Process] $Process)
    if (-not $Process) { return }
    if (-not $Process.HasExited) { $Process.Kill(); $Process.WaitForExit() }
    $Process.Dispose()
}

function Get-PrivateAgentProcess {
    # Agents started by this PowerShell for a command (gadget-agent … --parent-pid $PID).
    param([int] $ParentId = $PID)
    foreach ($entry in Get-ChildItem /proc -Directory -ErrorAction Ignore | Where-Object Name -match '^\d+$') {
        $commandLine = (Get-Content -LiteralPath "$($entry.FullName)/cmdline" -Raw -ErrorAction Ignore)
        if (-not $commandLine) { continue }
        $arguments = $commandLine.TrimEnd([char]0).Split([char]0)
        $index = [Array]::IndexOf($arguments, '--parent-pid')
        if ($index -ge 0 -and $index + 1 -lt $arguments.Count -and $arguments[$index + 1] -eq "$ParentId" -and
            ($arguments | Where-Object { $_ -like '*gadget-agent*' })) {
            [int]$entry.Name
        }
    }
}

function Start-ExecActivity {
    # Runs `<Path> <Marker>` every $IntervalMilliseconds from this PowerShell (so Ppid is $PID) until
    # stopped; Receive-Job returns the pids it started.
    param(
        [Parameter(Mandatory)][string] $Marker,
        [string] $Path = '/bin/true',
        [int] $IntervalMilliseconds = 100,
        [timespan] $For = '00:02:00'
    )
    Start-ThreadJob -ScriptBlock {
        param($Path, $Marker, $IntervalMilliseconds, $For)
        $watch = [Diagnostics.Stopwatch]::StartNew()
        while ($watch.Elapsed -lt $For) {
            $start = [Diagnostics.ProcessStartInfo]::new($Path)
            $start.ArgumentList.Add($Marker)
            $start.RedirectStandardOutput = $true
            $process = [Diagnostics.Process]::Start($start)
            $null = $process.StandardOutput.ReadToEnd()
            $process.WaitForExit()
            $process.Id
            $process.Dispose()
            Start-Sleep -Milliseconds $IntervalMilliseconds
        }
    } -ArgumentList $Path, $Marker, $IntervalMilliseconds, $For
}

function Stop-ExecActivity {
    # Stops the activity and returns the pids it started.
    param($Job)
    if (-not $Job) { return }
    $Job | Stop-Job
    $Job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Ignore
}

function New-Marker {
    "gadget-pester-$([Guid]::NewGuid().ToString('N').Substring(0, 16))"
}

function Invoke-Measured {
    # Runs $ScriptBlock and returns its output and how long it took.
    param([scriptblock] $ScriptBlock)
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $output = @(& $ScriptBlock)
    [pscustomobject]@{ Output = $output; Elapsed = $watch.Elapsed }
}

function New-FreshPwshStart {
    # How to start $Command in a new pwsh -NoProfile -NonInteractive (the way a runbook starts)
    # with this session's PowerShell, its output and errors redirected.
    param([string] $Command)
    $start = [Diagnostics.ProcessStartInfo]::new([Environment]::ProcessPath)
    if ([IO.Path]::GetFileNameWithoutExtension([Environment]::ProcessPath) -eq 'dotnet') {
        $start.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll'))
    }
    foreach ($argument in '-NoProfile', '-NonInteractive', '-Command', $Command) { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $start
}

function Invoke-FreshPwsh {
    # Runs $Command in a new pwsh (New-FreshPwshStart); returns its exit code and what it wrote.
    param([string] $Command, [timespan] $Timeout = '00:01:00')
    $process = [Diagnostics.Process]::Start((New-FreshPwshStart $Command))
    try {
        $errors = $process.StandardError.ReadToEndAsync()
        $output = $process.StandardOutput.ReadToEndAsync()
        if (-not $process.WaitForExit([int]$Timeout.TotalMilliseconds)) { $process.Kill(); throw "The fresh pwsh did not finish within $Timeout." }
        [pscustomobject]@{ ExitCode = $process.ExitCode; Output = $output.Result.Trim(); Errors = $errors.Result }
    }
    finally { $process.Dispose() }
}

. (Join-Path $PSScriptRoot 'RuncPod.ps1')

function Stop-RuncPod {
    # Kills and deletes the containers Start-RuncPod started.
    param([string[]] $Id)
    foreach ($container in $Id) {
        if (-not $container) { continue }
        & runc kill $container KILL 2>$null
        $null = Wait-Condition { & runc delete -f $container 2>$null; $LASTEXITCODE -eq 0 } -Timeout '00:00:10' -IntervalMilliseconds 100
    }
}

function Start-TestContainerd {
    # The running containerd, or one started for this file ($null when one was running already);
    # Stop-TestContainerd stops only one this started.
    if (Test-UnixSocket /run/containerd/containerd.sock) { return $null }
    $log = Join-Path (New-TestDirectory 'gadget-containerd') 'containerd.log'
    $process = Start-Process containerd -PassThru -RedirectStandardError $log -RedirectStandardOutput "$log.out"
    if (-not (Wait-Condition { Test-UnixSocket /run/containerd/containerd.sock } -Timeout '00:00:30')) {
        throw "containerd did not start: $(Get-Content $log -Raw)"
    }
    $process
}

function Stop-TestContainerd {
    param($Process)
    if ($Process) { & /bin/kill -TERM $Process.Id; $null = $Process.WaitForExit(10000) }
}

function Remove-CtrContainer {
    # Kills and removes a container started with ctr -n k8s.io run.
    param([string] $Id)
    if (-not $Id) { return }
    & ctr -n k8s.io task kill -s SIGKILL $Id 2>$null | Out-Null
    $null = Wait-Condition { & ctr -n k8s.io task rm -f $Id 2>$null | Out-Null; $LASTEXITCODE -eq 0 -or -not (& ctr -n k8s.io task ls | Select-String -SimpleMatch $Id) } -Timeout '00:00:10'
    & ctr -n k8s.io container rm $Id 2>$null | Out-Null
}
