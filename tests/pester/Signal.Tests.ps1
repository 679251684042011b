#Requires -Version 7.6
# Trace-GadgetSignal through one shared agent (started here on a private socket): real signals,
# sent with /bin/kill to children this test starts.
param([string] $ModulePath = $env:GADGET_MODULE_PATH)

BeforeDiscovery {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    $script:SkipKernel = -not (Test-KernelTracing)
}

BeforeAll {
    . (Join-Path $PSScriptRoot 'Gadget.TestHelpers.ps1')
    Import-Module (Join-Path $ModulePath 'Gadget.psd1') -Force
    $script:Agent = Enter-TestAgent -ModulePath $ModulePath

    function Start-SignalActivity {
        # Every $IntervalMilliseconds until stopped: starts /bin/sleep, waits until it runs as
        # sleep, and sends it the next of $Signal with /bin/kill; a target the signal left alive
        # (SIGWINCH is ignored by default) is killed afterwards. Receive-Job returns one
        # { Signal; Sender; Target } per signal sent, Sender being the pid kill ran as.
        param([string[]] $Signal = 'USR1', [int] $IntervalMilliseconds = 150, [timespan] $For = '00:02:00')
        Start-ThreadJob -ArgumentList $Signal, $IntervalMilliseconds, $For -ScriptBlock {
            param($Signal, $IntervalMilliseconds, $For)
            $watch = [Diagnostics.Stopwatch]::StartNew()
            for ($i = 0; $watch.Elapsed -lt $For; $i++) {
                $name = $Signal[$i % $Signal.Count]
                $target = [Diagnostics.Process]::Start('/bin/sleep', '60')
                $comm = "/proc/$($target.Id)/comm"
                for ($wait = 0; $wait -lt 200 -and (Get-Content $comm -ErrorAction Ignore) -ne 'sleep'; $wait++) { Start-Sleep -Milliseconds 5 }
                $kill = [Diagnostics.Process]::Start('/bin/kill', [string[]]@("-$name", "$($target.Id)"))
                $kill.WaitForExit()
                [pscustomobject]@{ Signal = "SIG$name"; Sender = $kill.Id; Target = $target.Id }
                $kill.Dispose()
                if (-not $target.WaitForExit(200)) { $target.Kill(); $target.WaitForExit() }
                $target.Dispose()
                Start-Sleep -Milliseconds $IntervalMilliseconds
            }
        }
    }

    # The escape sequences PowerShell styles table headers with: they take no column.
    $script:Ansi = '\x1b\[[0-9;]*m'

    function Stop-SignalActivity {
        # Stops the activity and returns what it sent.
        param($Job)
        if (-not $Job) { return }
        $Job | Stop-Job
        $Job | Receive-Job -Wait -AutoRemoveJob -ErrorAction Ignore
    }
}

AfterAll {
    Exit-TestAgent $script:Agent
}

Describe 'Trace-GadgetSignal -Local' -Skip:$SkipKernel {
    BeforeAll {
        $script:Activity = Start-SignalActivity -Signal USR1, USR2, WINCH
    }

    AfterAll {
        Stop-SignalActivity $Activity | Out-Null
    }

    Context 'a signal this test sends' {
        BeforeAll {
            $null = Receive-Job $Activity
            $events = @(Trace-GadgetSignal -Local -Duration 4)
            $signalled = @(Receive-Job $Activity | Where-Object Signal -eq 'SIGUSR1')
            $script:Caught = $events | Where-Object { $_.Signal -eq 'SIGUSR1' -and $_.TargetPid -in $signalled.Target } | Select-Object -First 1
            $script:Sent = if ($Caught) { $signalled | Where-Object Target -eq $Caught.TargetPid | Select-Object -First 1 }
        }

        It 'is reported as a Gadget.SignalEvent' {
            $Caught | Should -Not -BeNullOrEmpty -Because 'the activity sends SIGUSR1 to a sleep several times a second'
            $Caught | Should -BeOfType ([Gadget.SignalEvent])
            $Caught.PSObject.TypeNames[0] | Should -BeExactly 'Gadget.SignalEvent'
        }

        It 'has the signal, its target and what became of it' {
            $Caught.Signal | Should -Be ([Gadget.Signal]::SIGUSR1)
            $Caught.TargetPid | Should -Be $Sent.Target
            $Caught.TargetComm | Should -BeExactly 'sleep'
            $Caught.Result | Should -Be ([Gadget.SignalResult]::Delivered)
            $Caught.Code | Should -Be 0 -Because 'kill(2) sends with si_code SI_USER'
            $Caught.Group | Should -BeTrue -Because 'kill(2) signals the whole thread group'
        }

        It 'has the sender: the kill process, its name, parent and user' {
            $Caught.Pid | Should -Be $Sent.Sender
            $Caught.Tid | Should -Be $Caught.Pid
            $Caught.Comm | Should -BeExactly 'kill'
            $Caught.Ppid | Should -Be $PID
            $Caught.Uid | Should -Be ([uint](& id -u))
        }

        It 'has a recent UTC timestamp and no pod' {
            $Caught.Timestamp.Kind | Should -Be ([DateTimeKind]::Local)
            ((Get-Date) - $Caught.Timestamp).TotalMinutes | Should -BeLessThan 2
            $Caught.Pod | Should -BeNullOrEmpty
            $Caught.Container | Should -BeNullOrEmpty
        }

        It 'renders as a table within 120 columns, every header whole' {
            $lines = @(($Caught | Format-Table | Out-String -Width 120) -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $header = $lines | Where-Object { $_ -match '\bTPID\b' } | Select-Object -First 1
            $header | Should -Not -BeNullOrEmpty
            foreach ($column in 'TIME', 'PID', 'COMM', 'SIGNAL', 'TPID', 'TCOMM', 'RESULT') {
                $header | Should -Match "(^|\s)$column(\s|$)"
            }
            $header | Should -Not -Match '…'
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }

        It 'shows the row: Format-Table and the default view alike' {
            $row = "\b$($Caught.Pid)\s+kill\s+SIGUSR1\s+$($Caught.TargetPid)\s+sleep\s+Delivered\b"
            ($Caught | Format-Table | Out-String -Width 120) -replace $Ansi | Should -Match $row
            ($Caught | Out-String -Width 120) -replace $Ansi | Should -Match $row
        }

        It 'ToString reads like the table row' {
            $text = $Caught.ToString()
            $text | Should -Match "\b$($Caught.Pid)\b"
            $text | Should -Match '\bkill\b'
            $text | Should -Match '\bSIGUSR1\b'
            $text | Should -Match "\b$($Caught.TargetPid)\b"
            $text | Should -Match '\bDelivered\b'
        }
    }

    Context 'filters' {
        It '-Signal <Signal> keeps only that signal, checked in the kernel' -ForEach @(
            @{ Signal = 'SIGUSR2' }
            @{ Signal = 12 }
        ) {
            $null = Receive-Job $Activity
            $events = @(Trace-GadgetSignal -Local -Signal $Signal -Duration 3)
            $sent = @(Receive-Job $Activity)
            $events.Count | Should -BeGreaterThan 0
            @($events.Signal | Sort-Object -Unique) | Should -Be @([Gadget.Signal]::SIGUSR2)
            @($events | Where-Object TargetPid -in ($sent | Where-Object Signal -eq 'SIGUSR2').Target).Count | Should -BeGreaterThan 0
        }

        It '-Failed keeps only signals that were not delivered' {
            $null = Receive-Job $Activity
            $events = @(Trace-GadgetSignal -Local -Failed -Duration 3)
            $sent = @(Receive-Job $Activity)
            @($events | Where-Object Result -eq 'Delivered') | Should -BeNullOrEmpty
            $ignored = @($events | Where-Object TargetPid -in ($sent | Where-Object Signal -eq 'SIGWINCH').Target)
            $ignored.Count | Should -BeGreaterThan 0 -Because 'a sleep ignores SIGWINCH by default'
            @($ignored.Result | Sort-Object -Unique) | Should -Be @([Gadget.SignalResult]::Ignored)
            @($ignored.Comm | Sort-Object -Unique) | Should -Be @('kill')
            @($events | Where-Object TargetPid -in ($sent | Where-Object Signal -ne 'SIGWINCH').Target) | Should -BeNullOrEmpty
        }
    }

    Context 'in a fresh pwsh, as a runbook sees it' {
        It 'prints the default view within 120 columns, every header whole' {
            # Out-String -Width 120: a fresh pwsh whose output is redirected formats for 80 columns.
            $command = "Import-Module '$(Join-Path $ModulePath 'Gadget.psd1')'; Trace-GadgetSignal -Local -Signal SIGUSR1 -Duration 4 | Out-String -Width 120"
            $run = Invoke-FreshPwsh $command
            $run.ExitCode | Should -Be 0 -Because ($run.Errors -replace $Ansi)
            $lines = @($run.Output -replace $Ansi -split "`r?`n" | Where-Object { $_.Trim() })
            $lines[0].TrimEnd() | Should -Match '^TIME\s+PID\s+COMM\s+SIGNAL\s+TPID\s+TCOMM\s+RESULT$'
            @($lines | Where-Object { $_ -match '\bkill\s+SIGUSR1\s+\d+\s+sleep\s+Delivered\b' }).Count | Should -BeGreaterThan 0
            foreach ($line in $lines) { $line.TrimEnd().Length | Should -BeLessOrEqual 120 }
        }
    }
}

Describe 'Start-GadgetTrace -Local -Gadget signal' -Skip:$SkipKernel {
    BeforeAll {
        $script:StartActivity = Start-SignalActivity -Signal USR1
    }

    AfterAll {
        Stop-SignalActivity $StartActivity | Out-Null
    }

    It 'writes SignalEvent objects, with the gadget''s parameters by their keys' {
        $events = @(Start-GadgetTrace -Local -Gadget signal -Parameter @{ signal = 10 } -Duration 3)
        $sent = @(Receive-Job $StartActivity)
        $events.Count | Should -BeGreaterThan 0
        foreach ($e in $events) {
            $e | Should -BeOfType ([Gadget.SignalEvent])
            $e.PSObject.TypeNames[0] | Should -BeExactly 'Gadget.SignalEvent'
            $e.Signal | Should -Be ([Gadget.Signal]::SIGUSR1)
        }
        @($events | Where-Object TargetPid -in $sent.Target).Count | Should -BeGreaterThan 0
    }
}

Describe 'Start-GadgetTrace -Gadget completion' {
    It 'offers the gadgets users pick from: signal among them, flood not' {
        $offered = @((TabExpansion2 'Start-GadgetTrace -Gadget ' 26).CompletionMatches.CompletionText)
        $offered | Should -Contain 'signal'
        $offered | Should -Contain 'exec'
        $offered | Should -Not -Contain 'flood'
    }

    It 'completes a prefix: si gives signal' {
        @((TabExpansion2 'Start-GadgetTrace -Gadget si' 28).CompletionMatches.CompletionText) | Should -Be @('signal')
    }
}
