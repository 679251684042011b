#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Benchmarks the built module against its peers and prints one table.

.DESCRIPTION
    Runs on this host, as root, against the module staged by build.ps1 (out/Gadget):

    Exec storm (goal G3)  A C workload runs /bin/true (through a uniquely named link, so its execs
                          are easy to pick out) ExecCount times in a row and times itself: with no
                          tracer (baseline), traced by Trace-GadgetExec -Local | Measure-Object, and
                          traced by libbpf-tools execsnoop (output to a file). Completeness is events
                          seen ÷ execs done; slowdown is the workload's exec rate against the baseline.

    Flood (goal G4)       The flood gadget emits RecordsPerCall events per getppid() of a C workload
                          that paces its calls to offer a chosen rate for FloodSeconds. Events go
                          kernel → agent → gRPC → Start-GadgetTrace → Measure-Object. Completeness
                          is events counted ÷ records generated; loss is what the trace reports
                          (its Warnings and its closing verbose summary).

    Open storm (G1, G2)   A C workload opens and closes a file for OpenSeconds and counts its opens:
                          untraced, traced by Trace-GadgetOpen -Local -Pid <it> | Measure-Object and
                          by libbpf-tools opensnoop -p <it> (G1: throughput ratio and completeness),
                          and under a Trace-GadgetOpen whose -Path matches nothing (G2: slowdown).
    Unselected namespace  The same storm while Trace-GadgetOpen -Local -Namespace <none of its> runs:
                          the workload's mount namespace is marked unselected in the kernel's map
                          (the check a non-selected container's processes get); goal: slowdown < 10 %.
    DNS (G9)              dnsperf asks a dnsmasq on 127.0.81.1 at DnsRates queries/s for DnsSeconds,
                          traced by Trace-GadgetDns -Local -Comm dnsperf | Measure-Object: each
                          exchange is a query and a response; completeness is events ÷ (queries sent +
                          responses received). Latency: the median of the kernel-measured latency at
                          1,000 queries/s against dnsperf's own average.

    Every scenario runs Runs times, interleaved (the order rotates each round), and the table shows
    medians. One agent is started for the whole run; the cmdlets run in one warm runspace. The table
    is also written as markdown to OutDir/results.md. Timing never goes into tests: this is a report.

.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Bench
#>
[CmdletBinding()]
param(
    [Parameter(Mandatory)]
    [string] $ModulePath,

    # Where the workloads are compiled and results.md is written (default: out/bench beside the module).
    [string] $OutDir,

    [ValidateRange(1, 20)]
    [int] $Runs = 3,

    [ValidateRange(100, 1000000)]
    [int] $ExecCount = 3000,

    [ValidateRange(1, 60)]
    [int] $FloodSeconds = 4,

    [ValidateRange(1, 65536)]
    [int] $RecordsPerCall = 64,

    # Offered flood rates, events per second.
    [ValidateNotNullOrEmpty()]
    [int[]] $FloodRates = @(50000, 250000, 500000, 1000000),

    [string] $ExecsnoopPath = '/usr/sbin/execsnoop',

    [ValidateRange(1, 60)]
    [int] $OpenSeconds = 3,

    [string] $OpensnoopPath = '/usr/sbin/opensnoop',

    # Offered DNS query rates, queries per second.
    [ValidateNotNullOrEmpty()]
    [int[]] $DnsRates = @(10000, 25000, 50000),

    [ValidateRange(1, 60)]
    [int] $DnsSeconds = 4
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$ModulePath = (Resolve-Path $ModulePath).Path
if (-not $OutDir) { $OutDir = Join-Path (Split-Path $ModulePath -Parent) 'bench' }
New-Item $OutDir -ItemType Directory -Force | Out-Null
$OutDir = (Resolve-Path $OutDir).Path
if ([Environment]::UserName -ne 'root') { throw 'The benchmarks load BPF programs: run them as root.' }
foreach ($tool in 'cc', $ExecsnoopPath, $OpensnoopPath, 'dnsperf', 'dnsmasq') {
    if (-not (Get-Command $tool -ErrorAction Ignore)) { throw "'$tool' is missing (build.ps1 -Task Bench installs it)." }
}

#region helpers

function Wait-Condition {
    # Polls $Condition until it is true; false after $TimeoutSeconds.
    param([scriptblock] $Condition, [double] $TimeoutSeconds, [int] $IntervalMs = 20)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds $IntervalMs
    }
    return [bool](& $Condition)
}

function Get-BpfLinkCount {
    # BPF links a process holds: a tracer is armed once its links exist.
    param([int] $ProcessId)
    $count = 0
    foreach ($fd in [IO.Directory]::EnumerateFileSystemEntries("/proc/$ProcessId/fd")) {
        try {
            if ([IO.File]::ResolveLinkTarget($fd, $false)?.FullName -like '*anon_inode:bpf_link') { $count++ }
        }
        catch [IO.IOException] { }   # the descriptor closed while we looked
    }
    $count
}

function Get-Median {
    param([double[]] $Values)
    $sorted = @($Values | Sort-Object)
    if ($sorted.Count -eq 0) { return [double]::NaN }
    $middle = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) { return $sorted[$middle] }
    ($sorted[$middle - 1] + $sorted[$middle]) / 2
}

function Start-Workload {
    # Starts a workload that prints "ready <pid>" and waits for a line on stdin before it runs.
    param([string] $Path, [string[]] $Arguments)
    $start = [Diagnostics.ProcessStartInfo]::new($Path)
    foreach ($argument in $Arguments) { $start.ArgumentList.Add($argument) }
    $start.RedirectStandardInput = $true
    $start.RedirectStandardOutput = $true
    $start.UseShellExecute = $false
    $process = [Diagnostics.Process]::Start($start)
    $ready = $process.StandardOutput.ReadLine()
    if ($ready -notmatch '^ready (\d+)$') { $process.Kill(); throw "Workload $Path did not start: '$ready'." }
    $process
}

function Complete-Workload {
    # Lets a started workload run and returns what it reports (key=value pairs).
    param([Diagnostics.Process] $Process, [double] $TimeoutSeconds = 120)
    $Process.StandardInput.WriteLine('go')
    $Process.StandardInput.Flush()
    if (-not $Process.WaitForExit([int]($TimeoutSeconds * 1000))) {
        $Process.Kill()
        throw "Workload $($Process.Id) did not finish within $TimeoutSeconds s."
    }
    $report = @{}
    foreach ($pair in ($Process.StandardOutput.ReadToEnd().Trim() -split '\s+')) {
        $key, $value = $pair -split '=', 2
        if ($value) { $report[$key] = [double]$value }
    }
    $Process.Dispose()
    $report
}

function Send-Signal {
    param([int] $ProcessId, [string] $Signal)
    & /bin/kill "-$Signal" $ProcessId 2>$null
}

# The cmdlets run in one warm runspace, the way a user's session runs them.
$Client = [powershell]::Create()
$Client.Runspace = [runspacefactory]::CreateRunspace()
$Client.Runspace.Open()
[void]$Client.AddCommand('Import-Module').AddParameter('Name', $ModulePath).Invoke()

function Start-ClientTrace {
    param([string] $Script, [hashtable] $Parameters)
    $Client.Commands.Clear()
    $Client.Streams.ClearStreams()
    [void]$Client.AddScript($Script).AddParameters($Parameters)
    $Client.BeginInvoke()
}

function Complete-ClientTrace {
    # Waits for a trace started by Start-ClientTrace; returns the event count and what it reported.
    param([IAsyncResult] $Pending, [double] $TimeoutSeconds)
    if (-not $Pending.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($TimeoutSeconds))) {
        $Client.Stop()
        throw "The client trace did not end within $TimeoutSeconds s."
    }
    $failure = $null
    try {
        $output = $Client.EndInvoke($Pending)
    }
    catch {
        $output = @()
        $failure = "$_"
    }
    if ($Client.Streams.Error.Count -gt 0) { $failure = "$($Client.Streams.Error[0])" }
    if ($failure) { Write-Warning "A trace ended with an error (its run counts as 0 events): $failure" }
    $lost = [long]0
    foreach ($warning in $Client.Streams.Warning) {
        if ("$warning" -match 'kernel ring full (\d+), agent queue full (\d+)') {
            $lost = [Math]::Max($lost, [long]$Matches[1] + [long]$Matches[2])
        }
    }
    $summary = $null
    foreach ($verbose in $Client.Streams.Verbose) {
        if ("$verbose" -match 'Trace ended: (\d+) events delivered, (\d+) read from the kernel, (\d+) lost') {
            $summary = "$verbose"
            $lost = [Math]::Max($lost, [long]$Matches[3])
        }
    }
    [pscustomobject]@{
        Events   = [long]($output | Select-Object -Last 1)
        Failure  = $failure
        Lost     = $lost
        Warnings = $Client.Streams.Warning.Count
        Summary  = $summary
    }
}

#endregion

#region setup

Write-Host "Compiling the workloads into $OutDir"
foreach ($name in 'exec-loop', 'getppid-loop', 'open-loop') {
    & cc -O2 -Wall -Werror -o (Join-Path $OutDir $name) (Join-Path $PSScriptRoot "workloads/$name.c")
    if ($LASTEXITCODE -ne 0) { throw "cc failed on $name.c" }
}
$ExecLoop = Join-Path $OutDir 'exec-loop'
$GetppidLoop = Join-Path $OutDir 'getppid-loop'
$OpenLoop = Join-Path $OutDir 'open-loop'
$OpenTarget = '/etc/hostname'
# The storm execs /bin/true through a link with a unique name: its comm then picks out exactly
# the workload's execs, for the kernel filter (-Comm) and for execsnoop's output alike.
$StormComm = 'gbt-' + [Guid]::NewGuid().ToString('N').Substring(0, 8)
$StormProgram = Join-Path $OutDir $StormComm
New-Item -ItemType SymbolicLink -Path $StormProgram -Target '/bin/true' -Force | Out-Null

$AgentSocket = "/run/gadget/bench-$PID.sock"
$agentStart = [Diagnostics.ProcessStartInfo]::new((Join-Path $ModulePath 'agent/gadget-agent'))
foreach ($argument in '--socket', $AgentSocket, '--parent-pid', "$PID") { $agentStart.ArgumentList.Add($argument) }
$agentStart.UseShellExecute = $false
$agentStart.RedirectStandardOutput = $true
$agentStart.RedirectStandardError = $true
$Agent = [Diagnostics.Process]::Start($agentStart)
$Agent.BeginOutputReadLine()
$Agent.BeginErrorReadLine()
if (-not (Wait-Condition { Test-Path $AgentSocket } 30)) { throw "The agent did not open $AgentSocket within 30 s." }
$env:GADGET_AGENT_SOCKET = $AgentSocket
[void]$Client.AddScript('param($s) $env:GADGET_AGENT_SOCKET = $s').AddArgument($AgentSocket).Invoke()
Write-Host "Agent $($Agent.Id) on $AgentSocket; $Runs runs per scenario, interleaved."

#endregion

#region scenarios

function Invoke-ExecBaseline {
    $workload = Start-Workload $ExecLoop @("$ExecCount", $StormProgram)
    $report = Complete-Workload $workload
    [pscustomobject]@{ Rate = $report.execs / ($report.ns / 1e9); Execs = $report.execs; Captured = [double]::NaN; Lost = 0 }
}

function Invoke-ExecOurs {
    param([double] $CapSeconds)
    $workload = Start-Workload $ExecLoop @("$ExecCount", $StormProgram)
    if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -eq 0 } 10)) { throw 'A previous trace is still attached in the agent.' }
    $pending = Start-ClientTrace 'param($Comm, $Max, $Seconds) Trace-GadgetExec -Local -Comm $Comm -MaxEvents $Max -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count' `
        @{ Comm = $StormComm; Max = $ExecCount; Seconds = [int][Math]::Ceiling($CapSeconds) }
    if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -ge 1 } 20)) { throw 'Trace-GadgetExec did not attach within 20 s.' }
    $report = Complete-Workload $workload
    $trace = Complete-ClientTrace $pending ($CapSeconds + 15)
    [pscustomobject]@{ Rate = $report.execs / ($report.ns / 1e9); Execs = $report.execs; Captured = $trace.Events; Lost = $trace.Lost }
}

function Invoke-ExecExecsnoop {
    $workload = Start-Workload $ExecLoop @("$ExecCount", $StormProgram)
    $output = Join-Path $OutDir 'execsnoop.out'
    $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
    foreach ($argument in '-c', "exec $ExecsnoopPath > '$output' 2>/dev/null") { $start.ArgumentList.Add($argument) }
    $start.UseShellExecute = $false
    $snoop = [Diagnostics.Process]::Start($start)
    try {
        if (-not (Wait-Condition { (Get-BpfLinkCount $snoop.Id) -ge 2 } 20)) { throw 'execsnoop did not attach within 20 s.' }
        $report = Complete-Workload $workload
        Start-Sleep -Milliseconds 500   # let it print the last events
        Send-Signal $snoop.Id INT
        if (-not $snoop.WaitForExit(10000)) { $snoop.Kill() }
    }
    finally {
        if (-not $snoop.HasExited) { $snoop.Kill() }
    }
    # PCOMM PID PPID RET ARGS
    $captured = @(Get-Content $output | Where-Object { $_ -match "^$StormComm\s" }).Count
    [pscustomobject]@{ Rate = $report.execs / ($report.ns / 1e9); Execs = $report.execs; Captured = $captured; Lost = 0 }
}

function Invoke-Flood {
    param([int] $OfferedRate)
    $calls = [long][Math]::Ceiling($OfferedRate * $FloodSeconds / $RecordsPerCall)
    $expected = $calls * $RecordsPerCall
    $workload = Start-Workload $GetppidLoop @("$calls", "$($OfferedRate / $RecordsPerCall)")
    if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -eq 0 } 10)) { throw 'A previous trace is still attached in the agent.' }
    # Long enough for a workload slowed by a loaded machine to finish inside the trace.
    $cap = 3 * $FloodSeconds + 6
    $pending = Start-ClientTrace "param(`$TargetPid, `$Records, `$Max, `$Seconds) Start-GadgetTrace -Gadget flood -Local -Pid `$TargetPid -Parameter @{ 'records-per-call' = `$Records } -MaxEvents `$Max -Duration `$Seconds -Verbose | Measure-Object | ForEach-Object Count" `
        @{ TargetPid = $workload.Id; Records = $RecordsPerCall; Max = $expected; Seconds = $cap }
    if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -ge 1 } 20)) { throw 'Start-GadgetTrace -Gadget flood did not attach within 20 s.' }
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $report = Complete-Workload $workload
    $trace = Complete-ClientTrace $pending ($cap + 15)
    $elapsed = $clock.Elapsed.TotalSeconds
    $generated = $report.calls * $RecordsPerCall
    [pscustomobject]@{
        Offered      = $OfferedRate
        Generated    = $generated
        GeneratedPerSecond = $generated / ($report.ns / 1e9)
        Events       = $trace.Events
        # The trace ends at the last event when nothing was lost; at its duration otherwise.
        Delivered    = $trace.Events / $elapsed
        Lost         = $trace.Lost
        Completeness = $trace.Events / $generated
        Summary      = $trace.Summary
    }
}


function Invoke-OpenStorm {
    # One open storm; $Trace names the tracer: none, ours, opensnoop, nomatch or unselected.
    param([string] $Trace)
    $workload = Start-Workload $OpenLoop @("$OpenSeconds", $OpenTarget)
    $cap = 4 * $OpenSeconds + 10
    $pending = $null
    $snoop = $null
    $output = Join-Path $OutDir 'opensnoop.out'
    if ($Trace -ne 'none' -and $Trace -ne 'opensnoop') {
        if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -eq 0 } 10)) { throw 'A previous trace is still attached in the agent.' }
        $script = switch ($Trace) {
            'ours' { 'param($TargetPid, $Seconds) Trace-GadgetOpen -Local -Pid $TargetPid -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count' }
            'nomatch' { 'param($TargetPid, $Seconds) Trace-GadgetOpen -Local -Path /nonexistent/gadget-bench -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count' }
            'unselected' { 'param($TargetPid, $Seconds) Trace-GadgetOpen -Local -Namespace gadget-bench-none -Duration $Seconds -Verbose -WarningAction SilentlyContinue | Measure-Object | ForEach-Object Count' }
        }
        $pending = Start-ClientTrace $script @{ TargetPid = $workload.Id; Seconds = $OpenSeconds + 3 }
        if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -ge 8 } 20)) { throw 'Trace-GadgetOpen did not attach within 20 s.' }
    }
    elseif ($Trace -eq 'opensnoop') {
        $start = [Diagnostics.ProcessStartInfo]::new('/bin/sh')
        foreach ($argument in '-c', "exec $OpensnoopPath -p $($workload.Id) > '$output' 2>/dev/null") { $start.ArgumentList.Add($argument) }
        $start.UseShellExecute = $false
        $snoop = [Diagnostics.Process]::Start($start)
        if (-not (Wait-Condition { (Get-BpfLinkCount $snoop.Id) -ge 2 } 20)) { $snoop.Kill(); throw 'opensnoop did not attach within 20 s.' }
    }

    $report = Complete-Workload $workload $cap
    $captured = [double]::NaN
    $lost = 0
    if ($pending) {
        $traced = Complete-ClientTrace $pending $cap
        $captured = $traced.Events
        $lost = $traced.Lost
    }
    if ($snoop) {
        Start-Sleep -Milliseconds 500   # let it print the last events
        Send-Signal $snoop.Id INT
        if (-not $snoop.WaitForExit(10000)) { $snoop.Kill() }
        # PID COMM FD ERR PATH
        $captured = @(Get-Content $output | Where-Object { $_ -match " $([regex]::Escape($OpenTarget))$" }).Count
    }
    [pscustomobject]@{ Trace = $Trace; Rate = $report.opens / ($report.ns / 1e9); Opens = $report.opens; Captured = $captured; Lost = $lost }
}

function Start-BenchDnsmasq {
    # A dnsmasq on 127.0.81.1 that answers every name under bench.test from its own configuration.
    $log = Join-Path $OutDir 'dnsmasq.log'
    $arguments = @('--no-daemon', '--conf-file=/dev/null', '--port=53', '--bind-interfaces', '--listen-address=127.0.81.1',
        '--no-resolv', '--no-hosts', '--cache-size=10000', '--address=/bench.test/127.1.2.3', '--dns-forward-max=10000')
    $process = Start-Process dnsmasq -ArgumentList $arguments -PassThru -RedirectStandardError $log
    if (-not (Wait-Condition { (& dig '@127.0.81.1' +short +tries=1 +timeout=1 a.bench.test) -contains '127.1.2.3' } 10)) {
        $process.Kill()
        throw "dnsmasq did not start: $(Get-Content $log -Raw)"
    }
    $process
}

function Invoke-Dns {
    # dnsperf at $Rate queries/s; traced by ours unless $Trace is none. Returns dnsperf's counts and ours.
    param([int] $Rate, [string] $Trace = 'ours', [int] $Seconds = $DnsSeconds)
    $pending = $null
    if ($Trace -ne 'none') {
        if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -eq 0 } 10)) { throw 'A previous trace is still attached in the agent.' }
        $script = if ($Trace -eq 'latency') {
            'param($Seconds) Trace-GadgetDns -Local -Comm dnsperf -Qr Response -Duration $Seconds | ForEach-Object { $_.Latency.TotalMilliseconds }'
        }
        else {
            # A response timeout past the trace's end: only real packets are counted, no NoResponse events.
            'param($Seconds) Trace-GadgetDns -Local -Comm dnsperf -ResponseTimeout 10m -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count'
        }
        $pending = Start-ClientTrace $script @{ Seconds = $Seconds + 4 }
        if (-not (Wait-Condition { (Get-BpfLinkCount $Agent.Id) -ge 2 } 20)) { throw 'Trace-GadgetDns did not attach within 20 s.' }
    }
    $perf = & dnsperf -s 127.0.81.1 -p 53 -d $DnsQueries -l $Seconds -Q $Rate -c 1 -q 1000 2>&1 | Out-String
    $sent = if ($perf -match 'Queries sent:\s+(\d+)') { [double]$Matches[1] } else { throw "dnsperf printed no summary: $perf" }
    $completed = if ($perf -match 'Queries completed:\s+(\d+)') { [double]$Matches[1] } else { 0 }
    $average = if ($perf -match 'Average Latency \(s\):\s+([\d.]+)') { [double]$Matches[1] * 1000 } else { [double]::NaN }
    $result = [pscustomobject]@{ Rate = $Rate; Sent = $sent; Completed = $completed; PeerLatencyMs = $average; Events = [double]::NaN; Lost = 0; LatencyMs = [double]::NaN }
    if ($pending) {
        if ($Trace -eq 'latency') {
            $latencies = @($Client.EndInvoke($pending) | ForEach-Object { [double]$_ })
            $result.LatencyMs = Get-Median $latencies
        }
        else {
            $traced = Complete-ClientTrace $pending ($Seconds + 20)
            $result.Events = $traced.Events
            $result.Lost = $traced.Lost
        }
    }
    $result
}

#endregion

#region run

$results = @{ Baseline = @(); Ours = @(); Execsnoop = @(); Flood = @(); Open = @(); Dns = @(); DnsLatency = @() }
$DnsQueries = Join-Path $OutDir 'dns-queries.txt'
Set-Content $DnsQueries -Value (0..999 | ForEach-Object { "q$_.bench.test A" })
$Dnsmasq = Start-BenchDnsmasq
try {
    Write-Host 'Warm-up: one untimed baseline storm and one short flood.'
    $warm = Invoke-ExecBaseline
    $execCap = [Math]::Max(15, 4 * $ExecCount / $warm.Rate + 5)
    [void](Invoke-Flood ([Math]::Min(100000, $FloodRates[0])))

    $storm = @(
        @{ Name = 'Baseline'; Run = { Invoke-ExecBaseline } },
        @{ Name = 'Ours'; Run = { Invoke-ExecOurs $execCap } },
        @{ Name = 'Execsnoop'; Run = { Invoke-ExecExecsnoop } }
    )
    for ($round = 0; $round -lt $Runs; $round++) {
        for ($i = 0; $i -lt $storm.Count; $i++) {
            $scenario = $storm[($i + $round) % $storm.Count]
            $result = & $scenario.Run
            $results[$scenario.Name] += $result
            Write-Host ('  exec storm {0,-9} run {1}: {2,7:N0} execs/s, captured {3}/{4}, lost {5}' -f $scenario.Name, ($round + 1), $result.Rate, $result.Captured, $result.Execs, $result.Lost)
        }
        $openTraces = @('none', 'ours', 'opensnoop', 'nomatch', 'unselected')
        for ($i = 0; $i -lt $openTraces.Count; $i++) {
            $result = Invoke-OpenStorm $openTraces[($i + $round) % $openTraces.Count]
            $results.Open += $result
            Write-Host ('  open storm {0,-10} run {1}: {2,9:N0} opens/s, captured {3}/{4}, lost {5}' -f $result.Trace, ($round + 1), $result.Rate, $result.Captured, $result.Opens, $result.Lost)
        }
        foreach ($rate in $DnsRates) {
            $result = Invoke-Dns $rate
            $results.Dns += $result
            Write-Host ('  dns {0,7:N0}/s run {1}: {2:N0} sent, {3:N0} answered, {4:N0} events, lost {5}' -f $rate, ($round + 1), $result.Sent, $result.Completed, $result.Events, $result.Lost)
        }
        $latency = Invoke-Dns 1000 'latency' 3
        $results.DnsLatency += $latency
        Write-Host ('  dns latency run {0}: ours median {1:N3} ms, dnsperf average {2:N3} ms' -f ($round + 1), $latency.LatencyMs, $latency.PeerLatencyMs)

        $rates = @($FloodRates)
        if ($round % 2) { [array]::Reverse($rates) }
        foreach ($rate in $rates) {
            $result = Invoke-Flood $rate
            $results.Flood += $result
            Write-Host ('  flood {0,9:N0}/s offered run {1}: generated {2,9:N0}/s, delivered {3,9:N0}/s, {4:N0}/{5:N0} counted, lost {6:N0}' -f $rate, ($round + 1), $result.GeneratedPerSecond, $result.Delivered, $result.Events, $result.Generated, $result.Lost)
        }
    }
}
finally {
    if ($Dnsmasq -and -not $Dnsmasq.HasExited) { $Dnsmasq.Kill() }
    $Client.Dispose()
    Send-Signal $Agent.Id TERM
    if (-not $Agent.WaitForExit(10000)) { $Agent.Kill() }
    Remove-Item $StormProgram -ErrorAction Ignore
}

#endregion

#region report

function Format-Percent([double] $Value) { if ([double]::IsNaN($Value)) { '—' } else { '{0:N1} %' -f (100 * $Value) } }
function Format-Rate([double] $Value) { if ([double]::IsNaN($Value)) { '—' } else { '{0:N0}/s' -f $Value } }
function Format-Ratio([double] $Value) { if ([double]::IsNaN($Value) -or [double]::IsInfinity($Value)) { '—' } else { '{0:N2}' -f $Value } }

$baselineRate = Get-Median $results.Baseline.Rate
$oursRate = Get-Median $results.Ours.Rate
$peerRate = Get-Median $results.Execsnoop.Rate
$oursComplete = Get-Median ($results.Ours | ForEach-Object { $_.Captured / $_.Execs })
$peerComplete = Get-Median ($results.Execsnoop | ForEach-Object { $_.Captured / $_.Execs })
$oursSlowdown = 1 - $oursRate / $baselineRate
$peerSlowdown = 1 - $peerRate / $baselineRate

$rows = [Collections.Generic.List[object]]::new()
function Add-Row($Metric, $Ours, $Peer, $Ratio, $Goal, $Result) {
    $rows.Add([pscustomobject]@{ Metric = $Metric; Ours = $Ours; Peer = $Peer; Ratio = $Ratio; Goal = $Goal; Result = $Result })
}
Add-Row 'Exec storm: baseline, no tracer' (Format-Rate $baselineRate) '' '' '' ''
Add-Row 'G3 exec storm: captured (peer: execsnoop)' (Format-Percent $oursComplete) (Format-Percent $peerComplete) (Format-Ratio ($oursComplete / $peerComplete)) '100 %' $(if ($oursComplete -ge 1) { 'pass' } else { 'FAIL' })
Add-Row 'G3 exec storm: workload execs/s traced' (Format-Rate $oursRate) (Format-Rate $peerRate) (Format-Ratio ($oursRate / $peerRate)) '≥ peer' $(if ($oursRate -ge $peerRate) { 'pass' } else { 'FAIL' })
Add-Row 'G3 exec storm: workload slowdown' (Format-Percent $oursSlowdown) (Format-Percent $peerSlowdown) '' '≤ peer' $(if ($oursSlowdown -le $peerSlowdown) { 'pass' } else { 'FAIL' })

$ceiling = 0
foreach ($rate in ($FloodRates | Sort-Object)) {
    $set = @($results.Flood | Where-Object Offered -eq $rate)
    $delivered = Get-Median $set.Delivered
    $lost = Get-Median $set.Lost
    $complete = Get-Median $set.Completeness
    $generated = Get-Median $set.GeneratedPerSecond
    $clean = $lost -eq 0 -and $complete -ge 1
    if ($clean -and $generated -gt $ceiling) { $ceiling = $generated }
    Add-Row ('Flood {0:N0}/s offered ({1} generated): delivered' -f $rate, (Format-Rate $generated)) (Format-Rate $delivered) '' '' '' ''
    Add-Row ('Flood {0:N0}/s offered: counted, lost' -f $rate) ('{0}, {1:N0} lost' -f (Format-Percent $complete), $lost) '' '' '100 %, 0 lost' $(if ($clean) { 'pass' } else { 'FAIL' })
}
Add-Row 'G4 delivery ceiling with zero loss (kernel → cmdlet → Measure-Object)' (Format-Rate $ceiling) '' '' '≥ 500,000/s' $(if ($ceiling -ge 500000) { 'pass' } else { 'FAIL' })

$open = @{}
foreach ($trace in 'none', 'ours', 'opensnoop', 'nomatch', 'unselected') {
    $set = @($results.Open | Where-Object Trace -eq $trace)
    $open[$trace] = [pscustomobject]@{
        Rate     = Get-Median $set.Rate
        Complete = Get-Median ($set | ForEach-Object { $_.Captured / $_.Opens })
        Lost     = Get-Median $set.Lost
    }
}
$openRatio = $open.ours.Rate / $open.opensnoop.Rate
$oursOpenComplete = $open.ours.Complete
Add-Row 'Open storm: baseline, no tracer' (Format-Rate $open.none.Rate) '' '' '' ''
Add-Row 'G1 open storm: workload opens/s traced (peer: opensnoop)' (Format-Rate $open.ours.Rate) (Format-Rate $open.opensnoop.Rate) (Format-Ratio $openRatio) '≥ 1.5 × peer' $(if ($openRatio -ge 1.5) { 'pass' } else { 'FAIL' })
Add-Row 'G1 open storm: captured (lost and counted)' ('{0} ({1:N0} counted lost)' -f (Format-Percent $oursOpenComplete), $open.ours.Lost) (Format-Percent $open.opensnoop.Complete) '' '100 % or all loss counted' $(if ($oursOpenComplete -ge 1 -or $open.ours.Lost -gt 0) { 'pass' } else { 'FAIL' })
$noMatchSlowdown = 1 - $open.nomatch.Rate / $open.none.Rate
Add-Row 'G2 open storm under a -Path that matches nothing: slowdown' (Format-Percent $noMatchSlowdown) '' '' '≤ 10 %' $(if ($noMatchSlowdown -le 0.10) { 'pass' } else { 'FAIL' })
$unselectedSlowdown = 1 - $open.unselected.Rate / $open.none.Rate
Add-Row 'Open storm outside the selected namespace: slowdown' (Format-Percent $unselectedSlowdown) '' '' '< 10 %' $(if ($unselectedSlowdown -lt 0.10) { 'pass' } else { 'FAIL' })

$dnsCeiling = 0
foreach ($rate in ($DnsRates | Sort-Object)) {
    $set = @($results.Dns | Where-Object Rate -eq $rate)
    $complete = Get-Median ($set | ForEach-Object { $_.Events / ($_.Sent + $_.Completed) })
    $lost = Get-Median $set.Lost
    $clean = $lost -eq 0 -and $complete -ge 1
    if ($clean -and $rate -gt $dnsCeiling) { $dnsCeiling = $rate }
    Add-Row ('DNS {0:N0} queries/s: packets captured, lost' -f $rate) ('{0}, {1:N0} lost' -f (Format-Percent $complete), $lost) '' '' '100 %, 0 lost' $(if ($clean) { 'pass' } else { 'FAIL' })
}
Add-Row 'G9 DNS: highest query rate captured with zero loss (2 packets per query)' ('{0:N0}/s' -f $dnsCeiling) '' '' '≥ 50,000 packets/s' $(if (2 * $dnsCeiling -ge 50000) { 'pass' } else { 'FAIL' })
$oursLatency = Get-Median $results.DnsLatency.LatencyMs
$peerLatency = Get-Median $results.DnsLatency.PeerLatencyMs
Add-Row 'G9 DNS latency: kernel-measured median (peer: dnsperf average)' ('{0:N3} ms' -f $oursLatency) ('{0:N3} ms' -f $peerLatency) '' 'within 0.5 ms' $(if ([Math]::Abs($oursLatency - $peerLatency) -le 0.5) { 'pass' } else { 'FAIL' })

$rows | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host

$machine = '{0} cores, {1}, kernel {2}' -f [Environment]::ProcessorCount, ((Get-Content /proc/cpuinfo | Where-Object { $_ -like 'model name*' } | Select-Object -First 1) -replace '^model name\s*:\s*', ''), (Get-Content /proc/sys/kernel/osrelease)
$markdown = [Text.StringBuilder]::new()
[void]$markdown.AppendLine("Medians of $Runs interleaved runs on $machine; $(Get-Date -Format 'yyyy-MM-dd').")
[void]$markdown.AppendLine("Exec storm: $ExecCount execs of /bin/true in a row. Flood: $RecordsPerCall events per getppid(), paced for $FloodSeconds s.")
[void]$markdown.AppendLine()
[void]$markdown.AppendLine('| Metric | Ours | Peer | Ratio | Goal | Result |')
[void]$markdown.AppendLine('|---|---|---|---|---|---|')
foreach ($row in $rows) {
    [void]$markdown.AppendLine("| $($row.Metric) | $($row.Ours) | $($row.Peer) | $($row.Ratio) | $($row.Goal) | $($row.Result) |")
}
$markdownPath = Join-Path $OutDir 'results.md'
Set-Content -Path $markdownPath -Value $markdown.ToString()
$results | ConvertTo-Json -Depth 4 | Set-Content (Join-Path $OutDir 'results.json')
Write-Host "Results: $markdownPath"

#endregion

#region G11 overload
# A producer faster than any consumer: getppid-loop, unpaced, with RecordsPerCall flood records
# per call, traced into Measure-Object for a duration the workload must end well within (it
# counts calls made, and calls after the trace ends would generate nothing). It runs last, with its own agent and runspace (the shared
# ones are gone by now), and prints its own rows:
#   accounting  events counted by Measure-Object + lost (the trace's closing counters, -Verbose)
#               against the records generated (calls made × records per call)
#   workload    it must make all its calls, never waiting for the reader; their rate is shown
#   memory      the agent's resident memory, sampled every 50 ms, before and during the overload
#   reporting   seconds from the workload's start to the cmdlet's first loss Warning

function Invoke-OverloadBenchmark {
    param([int] $Runs, [long] $Calls = 8000, [int] $RecordsPerCall = 256, [int] $TraceSeconds = 20)

    $socket = "/run/gadget/bench-overload-$PID.sock"
    $start = [Diagnostics.ProcessStartInfo]::new((Join-Path $ModulePath 'agent/gadget-agent'))
    foreach ($argument in '--socket', $socket, '--parent-pid', "$PID") { $start.ArgumentList.Add($argument) }
    $start.UseShellExecute = $false
    $start.RedirectStandardOutput = $true
    $start.RedirectStandardError = $true
    $agent = [Diagnostics.Process]::Start($start)
    $agent.BeginOutputReadLine()
    $agent.BeginErrorReadLine()
    $shell = [powershell]::Create()
    $shell.Runspace = [runspacefactory]::CreateRunspace()
    $shell.Runspace.Open()
    $residentMiB = { param($ProcessId) [double](((Get-Content "/proc/$ProcessId/status") -match '^VmRSS:' -split '\s+')[1]) / 1024 }
    $trace = 'param($TargetPid, $Records, $Seconds) Start-GadgetTrace -Gadget flood -Local -Pid $TargetPid -Parameter @{ ''records-per-call'' = $Records } -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count'
    $measured = @()
    try {
        if (-not (Wait-Condition { Test-Path $socket } 30)) { throw "The agent did not open $socket within 30 s." }
        [void]$shell.AddScript('param($m, $s) Import-Module $m; $env:GADGET_AGENT_SOCKET = $s').AddArgument($ModulePath).AddArgument($socket).Invoke()
        for ($run = 0; $run -lt $Runs; $run++) {
            $workload = Start-Workload $GetppidLoop @("$Calls")
            $idleMiB = & $residentMiB $agent.Id
            $shell.Commands.Clear()
            $shell.Streams.ClearStreams()
            $pending = $shell.AddScript($trace).AddParameters(@{ TargetPid = $workload.Id; Records = $RecordsPerCall; Seconds = $TraceSeconds }).BeginInvoke()
            if (-not (Wait-Condition { (Get-BpfLinkCount $agent.Id) -ge 1 } 20)) { throw 'The overload trace did not attach within 20 s.' }
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $workload.StandardInput.WriteLine('go')
            $workload.StandardInput.Flush()
            $peakMiB = $idleMiB
            $firstWarning = [double]::NaN
            while (-not $pending.IsCompleted) {
                $peakMiB = [Math]::Max($peakMiB, (& $residentMiB $agent.Id))
                if ([double]::IsNaN($firstWarning) -and $shell.Streams.Warning.Count -gt 0) { $firstWarning = $clock.Elapsed.TotalSeconds }
                Start-Sleep -Milliseconds 50
            }
            # The workload was started above, so Complete-Workload (which starts it) does not fit here.
            if (-not $workload.WaitForExit(60000)) { $workload.Kill(); throw 'The overload workload did not finish within 60 s.' }
            $report = @{}
            foreach ($pair in ($workload.StandardOutput.ReadToEnd().Trim() -split '\s+')) {
                $key, $value = $pair -split '=', 2
                if ($value) { $report[$key] = [double]$value }
            }
            $workload.Dispose()
            $counted = [long]($shell.EndInvoke($pending) | Select-Object -Last 1)
            if ($shell.Streams.Error.Count -gt 0) { throw "The overload trace failed: $($shell.Streams.Error[0])" }
            $summary = "$($shell.Streams.Verbose | Where-Object Message -like 'Trace ended:*' | Select-Object -Last 1)"
            if ($summary -notmatch 'Trace ended: (\d+) events delivered, (\d+) read from the kernel, (\d+) lost') { throw "The overload trace gave no summary: '$summary'." }
            if ($report.ns / 1e9 -ge $TraceSeconds - 2) { throw "The overload workload ran $($report.ns / 1e9) s, too close to the trace's $TraceSeconds s to count what it generated." }
            $generated = $report.calls * $RecordsPerCall
            $lost = [long]$Matches[3]
            $measured += [pscustomobject]@{
                Generated      = $generated
                CallsDone      = $report.calls -eq $Calls
                CallsPerSecond = $report.calls / ($report.ns / 1e9)
                Counted        = $counted
                Lost           = $lost
                Error          = [Math]::Abs($generated - $counted - $lost) / $generated
                IdleMiB        = $idleMiB
                PeakMiB        = $peakMiB
                FirstWarningS  = $firstWarning
            }
            Write-Host ('  overload run {0}: {1:N0} generated at {2:N0} calls/s, {3:N0} counted + {4:N0} lost, agent {5:N0} → {6:N0} MiB, first warning after {7:N2} s' -f ($run + 1), $generated, $measured[-1].CallsPerSecond, $counted, $lost, $idleMiB, $peakMiB, $firstWarning)
        }
    }
    finally {
        $shell.Dispose()
        Send-Signal $agent.Id TERM
        if (-not $agent.WaitForExit(10000)) { $agent.Kill() }
    }

    $accounting = Get-Median $measured.Error
    $peak = Get-Median $measured.PeakMiB
    $warning = Get-Median $measured.FirstWarningS
    $allCalls = -not ($measured.CallsDone -contains $false)
    $overloadRows = @(
        [pscustomobject]@{ Metric = 'G11 overload: |generated − counted − lost| ÷ generated'; Ours = '{0:N3} %' -f (100 * $accounting); Goal = '≤ 0.1 %'; Result = $(if ($accounting -le 0.001) { 'pass' } else { 'FAIL' }) }
        [pscustomobject]@{ Metric = 'G11 overload: workload made all its calls (calls/s)'; Ours = '{0} ({1:N0}/s)' -f $allCalls, (Get-Median $measured.CallsPerSecond); Goal = 'never blocked'; Result = $(if ($allCalls) { 'pass' } else { 'FAIL' }) }
        [pscustomobject]@{ Metric = 'G11 overload: agent resident memory, idle → peak'; Ours = '{0:N0} → {1:N0} MiB' -f (Get-Median $measured.IdleMiB), $peak; Goal = '≤ 200 MiB'; Result = $(if ($peak -le 200) { 'pass' } else { 'FAIL' }) }
        [pscustomobject]@{ Metric = 'G11 overload: first loss Warning after the overload starts'; Ours = '{0:N2} s' -f $warning; Goal = '≤ 1 s'; Result = $(if ($warning -le 1) { 'pass' } else { 'FAIL' }) }
    )
    $overloadRows | Format-Table -AutoSize -Wrap | Out-String -Width 200 | Write-Host
    $overloadRows | ForEach-Object { "| $($_.Metric) | $($_.Ours) |  |  | $($_.Goal) | $($_.Result) |" } | Add-Content -Path (Join-Path $OutDir 'results.md')
}

Invoke-OverloadBenchmark -Runs $Runs

#endregion
