#Requires -Version 7.6
# Many traces through one shared agent, ended every way a trace can end: afterwards the agent must
# hold no more BPF programs, links and maps than before, and no more memory. And an agent that is
# killed while it streams.
#
# The events come from the flood gadget and a small C program that calls getppid() 500 times a
# second (4 events per call, so about 2,000 events/s): cheap for the machine, and every trace sees
# events within a few milliseconds of its start.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force

    function New-ClientRunspace {
        # A second runspace of this process with the module loaded, for a pipeline to stop from here.
        $runspace = [runspacefactory]::CreateRunspace()
        $runspace.Open()
        $shell = [powershell]::Create($runspace)
        $null = $shell.AddCommand('Import-Module').AddParameter('Name', (Join-Path $ModulePath 'Gadget.psd1')).Invoke()
        $shell.Dispose()
        $runspace
    }

    function Format-BpfObjectCount {
        param($Count)
        "$($Count.Programs) programs, $($Count.Links) links, $($Count.Maps) maps"
    }

    function Test-AtBaseline {
        param([int] $ProcessId, $Baseline)
        $now = Get-BpfObjectCount -ProcessId $ProcessId
        $now.Programs -eq $Baseline.Programs -and $now.Links -eq $Baseline.Links -and $now.Maps -eq $Baseline.Maps
    }

    function Invoke-TraceCycle {
        # Runs $Cycle $Count times. After each cycle the agent must return to the BPF objects it
        # held before any trace. Returns one line per cycle that went wrong (none when all is well).
        param([int] $Count, [scriptblock] $Cycle)
        for ($i = 1; $i -le $Count; $i++) {
            $problem = & $Cycle
            if ($problem) { "cycle ${i}: $problem" }
            if (-not (Wait-Condition { Test-AtBaseline $Agent.Process.Id $Baseline } -Timeout '00:00:10' -IntervalMilliseconds 10)) {
                "cycle ${i}: the agent still holds $(Format-BpfObjectCount (Get-BpfObjectCount $Agent.Process.Id)) 10 s after the trace ended; before any trace it held $(Format-BpfObjectCount $Baseline)"
            }
        }
    }

    if (Test-KernelTracing) {
        $script:Scratch = New-TestDirectory 'gadget-reliability'
        $script:Workload = Start-GetppidWorkload -Directory $Scratch -CallsPerSecond 500
        $script:Agent = Enter-TestAgent -ModulePath $ModulePath
        $script:Flood = @{ Gadget = 'flood'; Local = $true; Pid = $Workload.Id; Parameter = @{ 'records-per-call' = 4 } }
        $script:ClientRunspace = New-ClientRunspace
    }
}

AfterAll {
    if ($script:ClientRunspace) { $ClientRunspace.Dispose() }
    Exit-TestAgent $script:Agent
    Stop-GetppidWorkload $script:Workload
    if ($script:Scratch) { Remove-Item $Scratch -Recurse -Force -ErrorAction Ignore }
}

Describe 'A hundred traces ended each way' -Skip:$SkipKernel {
    BeforeAll {
        $script:Baseline = Get-BpfObjectCount -ProcessId $Agent.Process.Id

        # The routes, each one start → events → end. Each returns what went wrong, if anything.
        $script:EndBySelectFirst = {
            $events = @(Start-GadgetTrace @Flood | Select-Object -First 1)
            if ($events.Count -ne 1) { "Select-Object -First 1 returned $($events.Count) events" }
        }
        $script:EndByDuration = {
            $events = @(Start-GadgetTrace @Flood -Duration 200ms)
            if ($events.Count -eq 0) { '-Duration 200ms returned no event' }
        }
        $script:EndByMaxEvents = {
            $events = @(Start-GadgetTrace @Flood -MaxEvents 5)
            if ($events.Count -ne 5) { "-MaxEvents 5 returned $($events.Count) events" }
        }
        $script:EndByStop = {
            # Ctrl+C: the host stops the running pipeline.
            $shell = [powershell]::Create($ClientRunspace)
            try {
                $null = $shell.AddCommand('Start-GadgetTrace').AddParameters($Flood)
                $output = [Management.Automation.PSDataCollection[psobject]]::new()
                $pending = $shell.BeginInvoke([Management.Automation.PSDataCollection[psobject]]$null, $output)
                if (-not (Wait-Condition { $output.Count -gt 0 -or $pending.IsCompleted } -Timeout '00:00:15' -IntervalMilliseconds 10)) {
                    'no event within 15 s'
                }
                elseif ($pending.IsCompleted) {
                    "the trace ended by itself ($($shell.InvocationStateInfo.State)): $($shell.Streams.Error | Select-Object -First 1)"
                }
                $shell.Stop()
                if ($shell.InvocationStateInfo.State -ne 'Stopped') { "the pipeline is $($shell.InvocationStateInfo.State) after Stop()" }
            }
            finally { $shell.Dispose() }
        }

        # Five cycles of each route first, so that the memory baseline is that of a warm agent
        # (JIT-compiled code, grown pools), not of one that has never traced.
        $script:WarmUpProblems = @(foreach ($route in $EndBySelectFirst, $EndByDuration, $EndByMaxEvents, $EndByStop) {
                Invoke-TraceCycle -Count 5 -Cycle $route
            })
        $script:RssBefore = Get-ResidentBytes -ProcessId $Agent.Process.Id
        $script:Cycles = 0
    }

    It 'holds no trace''s programs between traces' {
        $Baseline.Programs | Should -Be 0
        $Baseline.Links | Should -Be 0
        $WarmUpProblems | Should -BeNullOrEmpty
    }

    It 'Select-Object -First 1: 100 cycles, back to the baseline after each' {
        Invoke-TraceCycle -Count 100 -Cycle $EndBySelectFirst | Should -BeNullOrEmpty
        $script:Cycles += 100
    }

    It '-Duration: 100 cycles, back to the baseline after each' {
        Invoke-TraceCycle -Count 100 -Cycle $EndByDuration | Should -BeNullOrEmpty
        $script:Cycles += 100
    }

    It '-MaxEvents: 100 cycles, back to the baseline after each' {
        Invoke-TraceCycle -Count 100 -Cycle $EndByMaxEvents | Should -BeNullOrEmpty
        $script:Cycles += 100
    }

    It 'stopping the pipeline (Ctrl+C): 100 cycles, back to the baseline after each' {
        Invoke-TraceCycle -Count 100 -Cycle $EndByStop | Should -BeNullOrEmpty
        $script:Cycles += 100
    }

    It 'the client process killed: 20 cycles, back to the baseline after each' {
        # Each cycle starts a pwsh of its own (about 2 s here): 20 cycles rather than 100 keep the
        # suite's time in bounds, and the agent sees the same thing every time (a connection that
        # drops without a word), so more cycles would add time, not coverage.
        $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; " +
        "Start-GadgetTrace -Gadget flood -Local -Pid $($Workload.Id) -Parameter @{ 'records-per-call' = 4 } | " +
        'ForEach-Object -Begin { $said = $false } -Process { if (-not $said) { [Console]::Out.WriteLine(''streaming''); [Console]::Out.Flush(); $said = $true } }'
        $problems = Invoke-TraceCycle -Count 20 -Cycle {
            $client = [Diagnostics.Process]::Start((New-FreshPwshStart $command))
            try {
                $errors = $client.StandardError.ReadToEndAsync()
                $line = $client.StandardOutput.ReadLineAsync()
                if (-not $line.Wait([TimeSpan]::FromSeconds(30)) -or $line.Result -ne 'streaming') {
                    "the client did not stream within 30 s: $(if ($client.HasExited) { $errors.Result })"
                }
                $client.Kill()   # SIGKILL: no chance to say goodbye to the agent
                $client.WaitForExit()
            }
            finally { $client.Dispose() }
        }
        $problems | Should -BeNullOrEmpty
        $script:Cycles += 20
    }

    It 'keeps the agent''s memory flat' {
        # A leak check, not a benchmark: a trace that left anything behind in the agent (a run, a
        # ring, a channel of batches) would grow it by at least its ring buffer and queue, which
        # 400+ cycles turn into hundreds of MiB. The tolerance covers what a garbage-collected heap
        # holds at one moment rather than another.
        # The agent gives memory back once it has been idle for a moment (its last trace, a killed
        # client's, may still be ending): the lowest reading over ten seconds is what it keeps. A
        # leak never comes back down.
        $tolerance = [Math]::Max(32MB, $RssBefore / 4)
        $after = [long]::MaxValue
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        do {
            $after = [Math]::Min($after, (Get-ResidentBytes -ProcessId $Agent.Process.Id))
            if ($after - $RssBefore -le $tolerance) { break }
            Start-Sleep -Milliseconds 500
        } while ([DateTime]::UtcNow -lt $deadline)
        $growth = $after - $RssBefore
        $growth | Should -BeLessOrEqual $tolerance -Because (
            'the agent''s resident memory went from {0:N1} MiB to {1:N1} MiB over {2} traces (a growth of {3:N1} MiB, {4:N0} KiB per trace; the tolerance is {5:N1} MiB)' -f
            ($RssBefore / 1MB), ($after / 1MB), $Cycles, ($growth / 1MB), ($growth / 1KB / [Math]::Max(1, $Cycles)), ($tolerance / 1MB))
        Write-Host ('    agent RSS {0:N1} MiB before, {1:N1} MiB after {2} traces' -f ($RssBefore / 1MB), ($after / 1MB), $Cycles)
    }

    It 'holds exactly what it held before any trace' {
        Test-AtBaseline $Agent.Process.Id $Baseline | Should -BeTrue
    }
}

Describe 'An agent that goes away mid-stream' -Skip:$SkipKernel {
    BeforeAll {
        function Stop-AgentMidStream {
            # Starts a trace on an agent of its own, waits for events, sends the agent $Signal and
            # waits for the trace to end. Returns what the cmdlet did.
            param([string] $Signal)
            $victim = Start-TestAgent -ModulePath $ModulePath
            $env:GADGET_AGENT_SOCKET = $victim.Socket
            $shell = [powershell]::Create($ClientRunspace)
            try {
                # A script, not a command: a terminating error then lands in the error stream.
                $null = $shell.AddScript('param($Flood) Start-GadgetTrace @Flood').AddArgument($Flood)
                $output = [Management.Automation.PSDataCollection[psobject]]::new()
                $pending = $shell.BeginInvoke([Management.Automation.PSDataCollection[psobject]]$null, $output)
                $streamed = Wait-Condition { $output.Count -gt 0 -or $pending.IsCompleted } -Timeout '00:00:15'
                & /bin/kill "-$Signal" $victim.Process.Id
                $clock = [Diagnostics.Stopwatch]::StartNew()
                # The trace should end within about 2 s; 20 s only guards the suite against a hang.
                $ended = $pending.AsyncWaitHandle.WaitOne([TimeSpan]::FromSeconds(20))
                $endedAfter = $clock.Elapsed
                if (-not $ended) { $shell.Stop() }
                $null = $victim.Process.WaitForExit(10000)
                [pscustomobject]@{
                    Agent      = $victim
                    Streamed   = $streamed
                    Ended      = $ended
                    EndedAfter = $endedAfter
                    State      = $shell.InvocationStateInfo.State
                    Errors     = @($shell.Streams.Error)
                }
            }
            finally {
                $shell.Dispose()
                $env:GADGET_AGENT_SOCKET = $Agent.Socket
            }
        }
    }

    Context 'killed (SIGKILL)' {
        BeforeAll {
            $script:Run = Stop-AgentMidStream -Signal KILL
        }

        AfterAll {
            Stop-TestAgent $script:Restarted
            $env:GADGET_AGENT_SOCKET = $Agent.Socket
        }

        It 'was streaming when it was killed' {
            $Run.Streamed | Should -BeTrue
        }

        It 'ends the trace instead of waiting for it' {
            $Run.Ended | Should -BeTrue -Because 'the cmdlet must notice that its agent is gone'
            $Run.State | Should -Be 'Completed'
            Write-Host ('    the trace ended {0:N2} s after the agent was killed' -f $Run.EndedAfter.TotalSeconds)
        }

        It 'ends it with one terminating error that names the agent' {
            $Run.Errors.Count | Should -Be 1
            $Run.Errors[0].FullyQualifiedErrorId | Should -BeExactly 'AgentStreamBroken,Gadget.Commands.StartGadgetTraceCommand'
            $Run.Errors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
            $Run.Errors[0].TargetObject | Should -BeExactly $Run.Agent.Socket
            $Run.Errors[0].Exception.Message | Should -Match ([regex]::Escape($Run.Agent.Socket))
            $Run.Errors[0].ErrorDetails.RecommendedAction | Should -Match 'restart'
        }

        It 'a restarted agent on the same socket serves the next command' {
            $script:Restarted = Start-TestAgent -ModulePath $ModulePath -Directory $Run.Agent.Directory
            $Restarted.Socket | Should -BeExactly $Run.Agent.Socket
            $env:GADGET_AGENT_SOCKET = $Restarted.Socket
            $events = @(Start-GadgetTrace @Flood -MaxEvents 3)
            $events.Count | Should -Be 3
            $events[0].ExePath | Should -BeExactly 'flood'
        }
    }

    Context 'stopped (SIGTERM)' {
        BeforeAll {
            $script:Run = Stop-AgentMidStream -Signal TERM
        }

        AfterAll {
            Remove-Item $Run.Agent.Directory -Recurse -Force -ErrorAction Ignore
        }

        It 'ends the trace instead of waiting for it' {
            $Run.Streamed | Should -BeTrue
            $Run.Ended | Should -BeTrue -Because 'the cmdlet must notice that its agent is gone'
            $Run.State | Should -Be 'Completed'
            Write-Host ('    the trace ended {0:N2} s after the agent was told to stop' -f $Run.EndedAfter.TotalSeconds)
        }

        It 'tells the user why it ended, with one terminating error that names the agent' {
            $Run.Errors.Count | Should -Be 1
            $Run.Errors[0].FullyQualifiedErrorId | Should -BeExactly 'AgentStopping,Gadget.Commands.StartGadgetTraceCommand'
            $Run.Errors[0].CategoryInfo.Category | Should -Be 'ConnectionError'
            $Run.Errors[0].TargetObject | Should -BeExactly $Run.Agent.Socket
            $Run.Errors[0].Exception.Message | Should -Match ([regex]::Escape($Run.Agent.Socket))
        }
    }
}
