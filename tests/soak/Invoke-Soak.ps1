#!/usr/bin/env pwsh
<#
.SYNOPSIS
    Runs one long trace at a steady event rate and reports how the agent's memory grows.

.DESCRIPTION
    Starts an agent on a socket of its own, and a C workload (tests/bench/workloads/getppid-loop.c)
    whose getppid() calls make the flood gadget emit RecordsPerCall events each, paced to offer
    Rate events per second for Duration. One Start-GadgetTrace -Gadget flood | Measure-Object
    in a warm runspace takes them all. The agent's resident memory (VmRSS) is sampled every
    SampleSeconds.

    Growth compares the median of the samples just after a warm-up (a tenth of the run, at most a
    minute: JIT, pools and the garbage collector's budget grow there once) with the median of the
    last tenth of the run: medians, because a garbage-collected heap swings from one sample to the
    next, and a leak shows as a level that keeps rising. Goal: at most MaxGrowthPercent. Prints the
    samples, then one summary: events generated, delivered and lost, and the memory at idle, after
    the warm-up, at the end and at its highest. Exits with 1 when the growth is over the goal or the
    trace failed.

    Not part of the test task: a full run takes ten minutes. build.ps1 -Task Soak runs it;
    -SoakDuration 00:01:00 is a quick check.

.EXAMPLE
    dotnet pwsh ./build.ps1 -Task Soak -SoakDuration 00:01:00
#>
[CmdletBinding()]
param(
    # The staged module (out/Gadget).
    [Parameter(Mandatory)]
    [string] $ModulePath,

    [ValidateScript({ $_ -ge [timespan]'00:00:10' -and $_ -le [timespan]'1.00:00:00' })]
    [timespan] $Duration = '00:10:00',

    # Events per second the workload offers.
    [ValidateRange(1, 1000000)]
    [int] $Rate = 20000,

    # Events per getppid() call: 20 keeps the workload at 1,000 calls/s for 20 k events/s.
    [ValidateRange(1, 65536)]
    [int] $RecordsPerCall = 20,

    # Seconds between memory samples (default: 5, or less for a run under two and a half minutes).
    [ValidateRange(1, 600)]
    [int] $SampleSeconds,

    [ValidateRange(0, 1000)]
    [double] $MaxGrowthPercent = 10
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

. (Join-Path $PSScriptRoot '../pester/Gadget.TestHelpers.ps1')

function Get-Median {
    param([double[]] $Values)
    $sorted = @($Values | Sort-Object)
    $middle = [int][Math]::Floor($sorted.Count / 2)
    if ($sorted.Count % 2) { $sorted[$middle] } else { ($sorted[$middle - 1] + $sorted[$middle]) / 2 }
}

if (-not $SampleSeconds) { $SampleSeconds = [Math]::Clamp([int]($Duration.TotalSeconds / 30), 1, 5) }
$ModulePath = (Resolve-Path $ModulePath).Path
if ([Environment]::UserName -ne 'root') { throw 'The soak loads BPF programs: run it as root.' }

$scratch = New-TestDirectory 'gadget-soak'
$agent = $null
$workload = $null
$client = $null
try {
    $agent = Start-TestAgent -ModulePath $ModulePath
    $env:GADGET_AGENT_SOCKET = $agent.Socket
    $callsPerSecond = [Math]::Max(1, [int][Math]::Round($Rate / $RecordsPerCall))
    $workload = Start-GetppidWorkload -Directory $scratch -CallsPerSecond $callsPerSecond -For $Duration -Paused
    $generated = [long]($callsPerSecond * [Math]::Floor($Duration.TotalSeconds)) * $RecordsPerCall
    Write-Host ("Agent {0} on {1}; workload {2}: {3:N0} calls/s × {4} events for {5}" -f $agent.Process.Id, $agent.Socket, $workload.Id, $callsPerSecond, $RecordsPerCall, $Duration)

    $client = [powershell]::Create()
    $client.Runspace = [runspacefactory]::CreateRunspace()
    $client.Runspace.Open()
    $null = $client.AddCommand('Import-Module').AddParameter('Name', (Join-Path $ModulePath 'Gadget.psd1')).Invoke()
    $client.Commands.Clear()

    $idle = Get-ResidentBytes -ProcessId $agent.Process.Id
    # The trace ends at the last event when nothing is lost; a little after the workload otherwise.
    $null = $client.AddScript('param($TargetPid, $Records, $Max, $Seconds) Start-GadgetTrace -Gadget flood -Local -Pid $TargetPid -Parameter @{ ''records-per-call'' = $Records } -MaxEvents $Max -Duration $Seconds -Verbose | Measure-Object | ForEach-Object Count').
    AddParameters(@{ TargetPid = $workload.Id; Records = $RecordsPerCall; Max = $generated; Seconds = [int]$Duration.TotalSeconds + 20 })
    $pending = $client.BeginInvoke()
    if (-not (Wait-Condition { (Get-BpfObjectCount -ProcessId $agent.Process.Id).Links -ge 1 -or $pending.IsCompleted } -Timeout '00:00:30') -or $pending.IsCompleted) {
        throw "The trace did not start: $($client.Streams.Error | Select-Object -First 1)"
    }
    $workload.StandardInput.WriteLine('go')
    $workload.StandardInput.Flush()

    $warmUp = [timespan]::FromSeconds([Math]::Min(60, $Duration.TotalSeconds / 10))
    $window = $Duration.TotalSeconds / 10
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $samples = [Collections.Generic.List[object]]::new()
    Write-Host ('{0,8} {1,10}' -f 'seconds', 'RSS MiB')
    while (-not $workload.HasExited -and -not $pending.IsCompleted) {
        $null = $pending.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds($SampleSeconds))
        if ($workload.HasExited) { break }
        $rss = Get-ResidentBytes -ProcessId $agent.Process.Id
        $samples.Add([pscustomobject]@{ Seconds = $clock.Elapsed.TotalSeconds; Rss = $rss })
        Write-Host ('{0,8:N0} {1,10:N1}' -f $clock.Elapsed.TotalSeconds, ($rss / 1MB))
    }
    if ($samples.Count -eq 0) { $samples.Add([pscustomobject]@{ Seconds = $clock.Elapsed.TotalSeconds; Rss = (Get-ResidentBytes -ProcessId $agent.Process.Id) }) }
    $last = $samples[-1].Seconds
    $early = @($samples | Where-Object { $_.Seconds -ge $warmUp.TotalSeconds -and $_.Seconds -lt $warmUp.TotalSeconds + $window })
    $late = @($samples | Where-Object Seconds -gt ($last - $window))
    if ($early.Count -eq 0) { $early = @($samples[0]) }
    $warm = Get-Median @($early.Rss)
    $end = Get-Median @($late.Rss)

    if (-not $pending.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(60))) {
        $client.Stop()
        throw 'The trace did not end.'
    }
    $failure = $null
    $delivered = 0
    try { $delivered = [long]($client.EndInvoke($pending) | Select-Object -Last 1) } catch { $failure = "$_" }
    if ($client.Streams.Error.Count -gt 0) { $failure = "$($client.Streams.Error[0])" }
    $summary = @($client.Streams.Verbose | Where-Object { "$_" -like 'Trace ended:*' }) | Select-Object -Last 1
    $lost = if ("$summary" -match '(\d+) lost') { [long]$Matches[1] } else { 0 }
    $highest = ($samples | Measure-Object Rss -Maximum).Maximum
    $growth = 100 * ($end - $warm) / $warm
    $pass = -not $failure -and $growth -le $MaxGrowthPercent

    Write-Host ''
    Write-Host ('Events: {0:N0} generated, {1:N0} delivered, {2:N0} reported lost ({3:N0}/s offered over {4})' -f $generated, $delivered, $lost, $Rate, $Duration)
    Write-Host ('Agent RSS: {0:N1} MiB idle; median {1:N1} MiB in the {2:N0} s after the {3:N0} s warm-up, {4:N1} MiB in the last {2:N0} s; {5:N1} MiB at most' -f ($idle / 1MB), ($warm / 1MB), $window, $warmUp.TotalSeconds, ($end / 1MB), ($highest / 1MB))
    Write-Host ('Memory growth after the warm-up: {0:N1} % (goal ≤ {1} %): {2}' -f $growth, $MaxGrowthPercent, $(if ($pass) { 'pass' } else { 'FAIL' }))
    if ($failure) { Write-Host "The trace failed: $failure" }
    if (-not $pass) { exit 1 }
}
finally {
    if ($client) { $client.Runspace.Dispose(); $client.Dispose() }
    Stop-GetppidWorkload $workload
    Stop-TestAgent $agent
    Remove-Item $scratch -Recurse -Force -ErrorAction Ignore
}
