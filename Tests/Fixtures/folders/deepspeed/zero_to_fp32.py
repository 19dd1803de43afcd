# stand-in for DeepSpeed's converter script, which DeepSpeed copies here
