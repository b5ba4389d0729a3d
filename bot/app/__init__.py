"""The composition root: process wiring (runtime, serve, worker, web, leader election, doctor).

Nothing imports this package; it imports everything it wires."""
